import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, registerAs } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { AlertingModule } from './alerting/alerting.module.js';
import { AlertmanagerModule } from './alertmanager/alertmanager.module.js';
import { CloudWatchAlarmSource } from './cloudwatch/cloudwatch-alarm.source.js';
import { CloudWatchModule } from './cloudwatch/cloudwatch.module.js';
import { ConsoleModule } from './console/console.module.js';
import {
  alertingOptionsFromEnv,
  loadAlertingConfig,
} from './config/alerting.config.js';
import { LogNotifierModule } from './notifier/log-notifier.module.js';
import { WebhookNotifierModule } from './notifier/webhook-notifier.module.js';
import type { Clock } from './ops/clock.js';
import { OpsModule } from './ops/ops.module.js';
import { PagerDutyModule } from './pagerduty/pagerduty.module.js';
import { PagerDutyWebhooksModule } from './pagerduty-webhooks/pagerduty-webhooks.module.js';
import { ReconcilerModule } from './reconciler/reconciler.module.js';
import { RoutingModule } from './routing/routing.module.js';
import { SnsIngestModule } from './sns/sns-ingest.module.js';
import { SnsNotifierModule } from './sns/sns-notifier.module.js';

type Env = Record<string, string | undefined>;

/**
 * The standalone service: one host of the alerting modules, composed from the validated
 * environment. Every edge is mounted, and the console; the notifier adapters are those
 * `NOTIFIERS` names.
 */
@Module({})
export class AppModule {
  /** `clock`: a time source other than the system's (the scenario runner moves one) */
  static forRoot(
    env: Env = process.env,
    extras: { clock?: Clock } = {},
  ): DynamicModule {
    const config = loadAlertingConfig(env);
    const alertingConfig = registerAs('alerting', () => config);
    const notifiers = config.notifiers ?? [];
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          isGlobal: true,
          load: [alertingConfig],
        }),
        ScheduleModule.forRoot(),
        AlertingModule.forRoot({
          config: alertingOptionsFromEnv(env),
          database: { url: config.databaseUrl, timeouts: config.database },
          auth: {
            apiKeys: config.apiKeys,
            failuresPerMinute: config.authFailuresPerMinute,
          },
          clock: extras.clock,
        }),
        // Always: GET/PATCH /v1/config/pagerduty answer even while PagerDuty is not enabled.
        PagerDutyModule.forRoot(config.pagerduty),
        ...(notifiers.includes('log') ? [LogNotifierModule] : []),
        ...(notifiers.includes('webhook')
          ? [WebhookNotifierModule.forRoot({ url: config.webhookUrl! })]
          : []),
        ...(notifiers.includes('sns')
          ? [
              SnsNotifierModule.forRoot({
                topicArn: config.sns.topicArn!,
                region: config.aws.region,
                endpoint: config.aws.endpointUrl,
              }),
            ]
          : []),
        // Always: without secrets the route answers 503, which says what is missing.
        PagerDutyWebhooksModule.forRoot({
          secrets: config.pagerduty.webhookSecrets,
        }),
        SnsIngestModule.forRoot({
          topicAllowlist: config.sns.topicAllowlist,
          certUrlPattern: config.sns.certUrlPattern,
        }),
        CloudWatchModule.forRoot({
          alarmApply: true,
          snsTopicArn: config.sns.topicArn,
        }),
        AlertmanagerModule,
        RoutingModule.forRoot({ file: config.routingFile, env }),
        ReconcilerModule.forRoot({
          sources: config.reconcileCloudWatch ? [CloudWatchAlarmSource] : [],
        }),
        OpsModule.forRoot(alertingConfig.KEY),
        ConsoleModule,
      ],
    };
  }
}
