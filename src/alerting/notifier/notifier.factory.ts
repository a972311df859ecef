import { HttpService } from '@nestjs/axios';
import type {
  AlertingConfig,
  NotifierName,
} from '../../config/alerting.config.js';
import { PagerDutyClient } from '../../pagerduty/pagerduty.client.js';
import { PagerDutyNotifier } from '../../pagerduty/pagerduty.notifier.js';
import { LogNotifier } from './log.notifier.js';
import type { Notifier } from './notifier.port.js';
import { WebhookNotifier } from './webhook.notifier.js';

/**
 * The one place adapters are chosen: `NOTIFIERS` (validated) plus the host app's own.
 * The SNS adapter and its SDK are imported only when enabled (~20 MB of RSS otherwise).
 */
export async function createNotifiers(
  config: AlertingConfig,
  http: HttpService,
  extra: Notifier[] = [],
): Promise<Notifier[]> {
  const build = async (name: NotifierName): Promise<Notifier> => {
    switch (name) {
      case 'pagerduty':
        return new PagerDutyNotifier({
          client: new PagerDutyClient({
            http: http.axiosRef,
            eventsUrl: config.pagerduty.eventsUrl,
            timeoutMs: config.delivery.timeoutMs,
          }),
          eventOptions: {
            awsRegion: config.aws.region,
            cloudwatchDashboardName: config.links.cloudwatchDashboardName,
            appDashboardUrl: config.links.appDashboardUrl,
            appDashboardName: config.links.appDashboardName,
            client: config.pagerduty.client,
            clientUrl: config.pagerduty.clientUrl,
            defaultComponent: config.alert.component,
            defaultGroup: config.alert.group,
          },
          ratePerMinute: config.pagerduty.rateLimitPerMinute,
        });
      case 'sns': {
        const [{ SnsNotifier }, { SNSClient }] = await Promise.all([
          import('../../sns/sns.notifier.js'),
          import('@aws-sdk/client-sns'),
        ]);
        // The dispatcher owns retries (backoff, ordering, the 24 h limit); SDK retries would multiply them.
        const client = new SNSClient({
          region: config.aws.region,
          endpoint: config.aws.endpointUrl,
          maxAttempts: 1,
        });
        return new SnsNotifier({
          topicArn: config.sns.topicArn!,
          client,
          timeoutMs: config.delivery.timeoutMs,
        });
      }
      case 'webhook':
        return new WebhookNotifier(
          http.axiosRef,
          config.webhookUrl!,
          config.delivery.timeoutMs,
        );
      case 'log':
        return new LogNotifier();
    }
  };
  const notifiers = [
    ...(await Promise.all(config.notifiers.map(build))),
    ...extra,
  ];
  const names = notifiers.map((n) => n.name);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length > 0)
    throw new Error(
      `notifier names must be unique; repeated: ${twice.join(', ')}`,
    );
  return notifiers;
}
