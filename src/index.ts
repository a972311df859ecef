/**
 * Package entry for host NestJS applications embedding the alerting service.
 *
 * ```ts
 * TypeOrmModule.forRoot({ ...yours, entities: [...yours, ...alertingEntities], migrations: alertingMigrations, migrationsRun: true }),
 * AlertingModule.forRoot({ config: loadAlertingConfig(process.env), notifiers: [new MyNotifier()] }),
 * RouterModule.register([{ path: 'alerting', module: AlertingModule }]),
 * ```
 */
export {
  AlertingModule,
  type AlertingModuleAsyncOptions,
} from './alerting/alerting.module.js';
export type { AlertingModuleOptions } from './alerting/alerting.options.js';
export {
  NOTIFIER,
  NotifierError,
  type Notifier,
  type NotifierResult,
  type NotificationAction,
  type NotificationEvent,
  type IncidentSnapshot,
} from './alerting/notifier/notifier.port.js';
export { alertingEntities } from './database/data-source.options.js';
export { alertingMigrations } from './database/migrations/index.js';
export {
  loadAlertingConfig,
  maskSecret,
  ConfigValidationError,
  type AlertingConfig,
} from './config/alerting.config.js';
export { Public } from './ops/public.decorator.js';
export {
  useAlertingBodyParsers,
  ALERTING_BODY_LIMIT_BYTES,
} from './ops/body-parsers.js';
