import { HttpModule, HttpService } from '@nestjs/axios';
import {
  Module,
  type DynamicModule,
  type ModuleMetadata,
  type Provider,
} from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { alertingEntities } from '../database/data-source.options.js';
import { DatabaseService } from '../database/database.service.js';
import { PagerDutyConfigController } from '../pagerduty/pagerduty-config.controller.js';
import { AlertsController } from './alerts.controller.js';
import { AlertingMetrics } from './alerting.metrics.js';
import {
  ALERTING_CONFIG,
  ALERTING_OPTIONS,
  type AlertingModuleOptions,
} from './alerting.options.js';
import { CLOCK, systemClock } from './clock.js';
import { DeliveriesController } from './deliveries.controller.js';
import { IncidentQueries } from './incident.queries.js';
import { IncidentService } from './incident.service.js';
import { IncidentsController } from './incidents.controller.js';
import { DeliveryDispatcher } from './notifier/delivery.dispatcher.js';
import { createNotifiers } from './notifier/notifier.factory.js';
import { NOTIFIER } from './notifier/notifier.port.js';
import { OutboxService } from './notifier/outbox.service.js';
import { RoutingKeyService } from './routing-key.service.js';
import { protectControllers } from '../ops/api-key.guard.js';
import { ReconcilerScheduler } from './reconciler/reconciler.scheduler.js';
import { ReconcilerService } from './reconciler/reconciler.service.js';
import { cloudWatchClientProvider } from '../cloudwatch/cloudwatch.providers.js';
import { distributedLockProvider } from '../database/distributed-lock.js';
import { SnsController } from '../sns/sns.controller.js';
import { snsProviders } from '../sns/sns.providers.js';
import { CloudWatchEventsController } from '../cloudwatch/cloudwatch-events.controller.js';
import { CloudWatchAlarmsController } from '../cloudwatch/cloudwatch-alarms.controller.js';
import { AlertmanagerController } from '../alertmanager/alertmanager.controller.js';

/** Options of {@link AlertingModule.forRootAsync}. */
export interface AlertingModuleAsyncOptions extends Pick<
  ModuleMetadata,
  'imports'
> {
  inject?: any[];
  useFactory: (
    ...args: any[]
  ) => AlertingModuleOptions | Promise<AlertingModuleOptions>;
}

const CONTROLLERS = [
  AlertsController,
  IncidentsController,
  DeliveriesController,
  PagerDutyConfigController,
  SnsController,
  CloudWatchEventsController,
  CloudWatchAlarmsController,
  AlertmanagerController,
];
// API_KEYS on every controller of the module, including a host app's mount of it.
protectControllers(CONTROLLERS);

const PROVIDERS: Provider[] = [
  {
    provide: ALERTING_CONFIG,
    inject: [ALERTING_OPTIONS],
    useFactory: (o: AlertingModuleOptions) => o.config,
  },
  {
    provide: CLOCK,
    inject: [ALERTING_OPTIONS],
    useFactory: (o: AlertingModuleOptions) => o.clock ?? systemClock,
  },
  {
    provide: NOTIFIER,
    inject: [ALERTING_OPTIONS, HttpService],
    useFactory: (o: AlertingModuleOptions, http: HttpService) =>
      createNotifiers(o.config, http, o.notifiers),
  },
  DatabaseService,
  AlertingMetrics,
  RoutingKeyService,
  DeliveryDispatcher,
  OutboxService,
  IncidentService,
  IncidentQueries,
  distributedLockProvider,
  cloudWatchClientProvider,
  ReconcilerService,
  ReconcilerScheduler,
  ...snsProviders,
];

/**
 * The alerting service as a module: ingestion, incidents, the outbox and its notifiers,
 * and their HTTP API. The standalone app is one host of it; another NestJS app mounts it
 * with its own TypeORM connection (register `alertingEntities`, run `alertingMigrations`).
 */
@Module({})
export class AlertingModule {
  static forRoot(options: AlertingModuleOptions): DynamicModule {
    return AlertingModule.build(
      [],
      [{ provide: ALERTING_OPTIONS, useValue: options }],
    );
  }

  static forRootAsync(options: AlertingModuleAsyncOptions): DynamicModule {
    return AlertingModule.build(options.imports ?? [], [
      {
        provide: ALERTING_OPTIONS,
        inject: options.inject ?? [],
        useFactory: options.useFactory,
      },
    ]);
  }

  private static build(
    imports: NonNullable<ModuleMetadata['imports']>,
    optionProviders: Provider[],
  ): DynamicModule {
    return {
      module: AlertingModule,
      imports: [
        ...imports,
        HttpModule,
        ScheduleModule.forRoot(),
        TypeOrmModule.forFeature(alertingEntities),
      ],
      controllers: CONTROLLERS,
      providers: [...optionProviders, ...PROVIDERS],
      exports: [
        ALERTING_CONFIG,
        NOTIFIER,
        IncidentService,
        IncidentQueries,
        DatabaseService,
        AlertingMetrics,
        DeliveryDispatcher,
        CLOCK,
        ReconcilerService,
      ],
    };
  }
}
