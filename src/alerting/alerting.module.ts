import {
  Module,
  type DynamicModule,
  type ModuleMetadata,
  type Provider,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  ALERTING_CONFIG,
  resolveAlertingConfig,
} from '../config/alerting.config.js';
import { ALERTING_DATA_SOURCE } from '../database/data-source.options.js';
import { DatabaseModule } from '../database/database.module.js';
import { NotifierModule } from '../notifier/notifier.module.js';
import { AlertingHealthIndicator } from '../ops/alerting.health.js';
import { AlertingMetrics } from '../ops/alerting.metrics.js';
import { ALERTING_AUTH, protectControllers } from '../ops/api-key.guard.js';
import { CLOCK, systemClock } from '../ops/clock.js';
import { AlertsController } from './alerts.controller.js';
import {
  ALERTING_OPTIONS,
  type AlertingModuleOptions,
} from './alerting.options.js';
import { DeliveriesController } from './deliveries.controller.js';
import { IncidentEvent } from './incident-event.entity.js';
import { Incident } from './incident.entity.js';
import { IncidentQueries } from './incident.queries.js';
import { IncidentRepository } from './incident.repository.js';
import { KnownOpenIncidents } from './known-open.js';
import { IncidentService } from './incident.service.js';
import { IncidentsController } from './incidents.controller.js';

/** Options of {@link AlertingModule.forRootAsync}: a factory of {@link AlertingModuleOptions}. */
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
];
protectControllers(CONTROLLERS);

const PROVIDERS: Provider[] = [
  {
    provide: ALERTING_CONFIG,
    inject: [ALERTING_OPTIONS],
    useFactory: (o: AlertingModuleOptions) =>
      resolveAlertingConfig(o.config, { schedule: o.schedule, auth: o.auth }),
  },
  {
    provide: ALERTING_AUTH,
    inject: [ALERTING_OPTIONS],
    useFactory: (o: AlertingModuleOptions) => o.auth ?? { apiKeys: [] },
  },
  {
    provide: CLOCK,
    inject: [ALERTING_OPTIONS],
    useFactory: (o: AlertingModuleOptions) => o.clock ?? systemClock,
  },
  AlertingMetrics,
  AlertingHealthIndicator,
  IncidentService,
  IncidentRepository,
  IncidentQueries,
  KnownOpenIncidents,
];

/**
 * The alerting core: alerts in (`/v1/alerts`, templates), incidents (`/v1/incidents`), the
 * outbox and its API (`/v1/deliveries`), on the module's own database. Global, so the
 * optional modules beside it (PagerDutyModule, SnsIngestModule, CloudWatchModule,
 * AlertmanagerModule, ReconcilerModule, the notifier adapters) find the core without
 * importing it. The standalone app is one host of it:
 *
 * ```ts
 * imports: [
 *   ScheduleModule.forRoot(), // the host's, if it has scheduled jobs; the module needs none
 *   AlertingModule.forRoot({
 *     config: { appEnv: 'production', notifiers: ['host-table'] },
 *     database: { url: process.env.DATABASE_URL, tablePrefix: 'alerting_' },
 *     auth: false, // the host's own guard protects the routes
 *   }),
 *   PagerDutyModule.forRoot({ routingKey }), // or only a host @NotifierAdapter()
 *   RouterModule.register([{ path: 'alerting', module: AlertingModule, children: [PagerDutyModule] }]),
 * ]
 * ```
 */
@Module({})
export class AlertingModule {
  static forRoot(options: AlertingModuleOptions = {}): DynamicModule {
    return AlertingModule.build(
      DatabaseModule.forRootAsync({ useFactory: () => options.database ?? {} }),
      [{ provide: ALERTING_OPTIONS, useValue: options }],
    );
  }

  static forRootAsync(options: AlertingModuleAsyncOptions): DynamicModule {
    return AlertingModule.build(
      DatabaseModule.forRootAsync({
        imports: options.imports,
        inject: options.inject,
        useFactory: async (...args: unknown[]) =>
          (await options.useFactory(...args)).database ?? {},
      }),
      [
        {
          provide: ALERTING_OPTIONS,
          inject: options.inject ?? [],
          useFactory: options.useFactory,
        },
      ],
      options.imports ?? [],
    );
  }

  private static build(
    database: DynamicModule,
    optionProviders: Provider[],
    imports: NonNullable<ModuleMetadata['imports']> = [],
  ): DynamicModule {
    return {
      module: AlertingModule,
      global: true,
      imports: [
        ...imports,
        database,
        NotifierModule,
        TypeOrmModule.forFeature(
          [Incident, IncidentEvent],
          ALERTING_DATA_SOURCE,
        ),
      ],
      controllers: CONTROLLERS,
      providers: [...optionProviders, ...PROVIDERS],
      exports: [
        ALERTING_OPTIONS,
        ALERTING_CONFIG,
        ALERTING_AUTH,
        CLOCK,
        AlertingMetrics,
        AlertingHealthIndicator,
        IncidentService,
        IncidentQueries,
        KnownOpenIncidents,
        database,
        NotifierModule,
      ],
    };
  }
}
