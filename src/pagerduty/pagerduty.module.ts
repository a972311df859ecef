import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { ALERTING_DATA_SOURCE } from '../database/data-source.options.js';
import { protectControllers } from '../ops/api-key.guard.js';
import { PagerDutyConfigController } from './pagerduty-config.controller.js';
import { PagerDutyClient } from './pagerduty.client.js';
import { PagerDutyNotifier } from './pagerduty.notifier.js';
import {
  PAGERDUTY_OPTIONS,
  resolvePagerDutyOptions,
  type PagerDutyOptions,
  type PagerDutySettingsDefaults,
} from './pagerduty.options.js';
import { RoutingKeyService } from './routing-key.service.js';
import { Setting } from './setting.entity.js';

protectControllers([PagerDutyConfigController]);

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

/**
 * The `pagerduty` notifier adapter (Events API v2) and its settings: the routing key and
 * service name, changed at runtime through `GET/PATCH /v1/config/pagerduty` and stored in
 * the module's `settings` table. Each incident keeps the routing key in force when it
 * triggered (the notifier context), so its resolve reaches the same PagerDuty service.
 */
@Module({})
export class PagerDutyModule {
  static forRoot(options: PagerDutyOptions = {}): DynamicModule {
    return {
      module: PagerDutyModule,
      imports: [TypeOrmModule.forFeature([Setting], ALERTING_DATA_SOURCE)],
      controllers: [PagerDutyConfigController],
      providers: [
        {
          provide: PAGERDUTY_OPTIONS,
          inject: [ALERTING_CONFIG],
          // the core's config.pagerduty (defaults applied) under this module's own options
          useFactory: (config: AlertingConfig) =>
            resolvePagerDutyOptions({
              ...config.pagerduty,
              ...definedOnly(options),
            }),
        },
        RoutingKeyService,
        {
          provide: PagerDutyNotifier,
          inject: [ALERTING_CONFIG, PAGERDUTY_OPTIONS, RoutingKeyService],
          useFactory: (
            config: AlertingConfig,
            pd: PagerDutySettingsDefaults,
            settings: RoutingKeyService,
          ) =>
            new PagerDutyNotifier({
              client: new PagerDutyClient({
                eventsUrl: pd.eventsUrl,
                timeoutMs: config.delivery.timeoutMs,
              }),
              eventOptions: {
                awsRegion: config.aws.region,
                cloudwatchDashboardName: config.links.cloudwatchDashboardName,
                appDashboardUrl: config.links.appDashboardUrl,
                appDashboardName: config.links.appDashboardName,
                client: pd.client,
                clientUrl: pd.clientUrl,
                defaultComponent: config.alert.component,
                defaultGroup: config.alert.group,
              },
              ratePerMinute: pd.rateLimitPerMinute,
              routingKey: () => settings.current(),
            }),
        },
      ],
      exports: [RoutingKeyService],
    };
  }
}
