/**
 * Package entry for host NestJS applications embedding the alerting service. The module
 * graph and a host's composition are in the README ("Embedding in a host NestJS app").
 */
import { Incident } from './alerting/incident.entity.js';
import { IncidentEvent } from './alerting/incident-event.entity.js';
import { Delivery } from './notifier/delivery.entity.js';
import { Setting } from './pagerduty/setting.entity.js';
import { SnsMessageRecord } from './sns/sns-message.entity.js';
import { Silence } from './routing/silence.entity.js';

export {
  AlertingModule,
  type AlertingModuleAsyncOptions,
} from './alerting/alerting.module.js';
export type { AlertingModuleOptions } from './alerting/alerting.options.js';
export { IncidentService } from './alerting/incident.service.js';
export type {
  AlertInput,
  IngestItem,
  IngestResult,
} from './alerting/alert.types.js';
export {
  ALERTING_CONFIG,
  ConfigValidationError,
  loadAlertingConfig,
  maskSecret,
  resolveAlertingConfig,
  type AlertingConfig,
  type AlertingOptions,
} from './config/alerting.config.js';
export {
  ALERTING_DATA_SOURCE,
  dataSourceOptions,
} from './database/data-source.options.js';
export type { DatabaseOptions } from './database/database.module.js';
export { runAlertingMigrations } from './database/migrate.js';
export { alertingMigrations } from './database/migrations/index.js';
export {
  NotifierError,
  type AlertLink,
  type IncidentSnapshot,
  type NotificationAction,
  type NotificationEvent,
  type Notifier,
  type NotifierResult,
  type Severity,
} from './notifier/notifier.port.js';
export { NotifierAdapter } from './notifier/notifier-adapter.decorator.js';
export { NotifierModule } from './notifier/notifier.module.js';
export { LogNotifierModule } from './notifier/log-notifier.module.js';
export {
  WebhookNotifierModule,
  type WebhookNotifierOptions,
} from './notifier/webhook-notifier.module.js';
export { PagerDutyModule } from './pagerduty/pagerduty.module.js';
export {
  PagerDutyWebhooksModule,
  type PagerDutyWebhooksOptions,
} from './pagerduty-webhooks/pagerduty-webhooks.module.js';
export type { PagerDutyOptions } from './pagerduty/pagerduty.options.js';
export {
  SnsNotifierModule,
  type SnsNotifierOptions,
} from './sns/sns-notifier.module.js';
export {
  SnsIngestModule,
  type SnsIngestOptions,
} from './sns/sns-ingest.module.js';
export { CloudWatchModule } from './cloudwatch/cloudwatch.module.js';
export type { CloudWatchModuleOptions } from './cloudwatch/cloudwatch.options.js';
export { CloudWatchAlarmSource } from './cloudwatch/cloudwatch-alarm.source.js';
export { AlertmanagerModule } from './alertmanager/alertmanager.module.js';
export { ConsoleModule } from './console/console.module.js';
export type { ConsoleModuleOptions } from './console/console.options.js';
export {
  ReconcilerModule,
  type ReconcilerModuleOptions,
} from './reconciler/reconciler.module.js';
export type { ReconcilerSource } from './reconciler/reconciler-source.port.js';
export { RoutingModule } from './routing/routing.module.js';
export type { RoutingModuleOptions } from './routing/routing.options.js';
export { RoutingFileError } from './routing/routing-table.js';
export type {
  IncidentHold,
  IncidentRoute,
} from './alerting/incident-router.port.js';
export {
  ReconcilerService,
  type ReconcileResult,
} from './reconciler/reconciler.service.js';
export { AlertingExceptionFilter } from './ops/alerting-exception.filter.js';
export { AlertingError } from './ops/alerting.errors.js';
export { AlertingHealthIndicator } from './ops/alerting.health.js';
export {
  AlertingMetrics,
  alertingMetricsRegistry,
} from './ops/alerting.metrics.js';
export { ALERTING_PUBLIC_KEY, AlertingPublic } from './ops/public.decorator.js';
export { CLOCK, type Clock } from './ops/clock.js';
export { addAlertingOpenApi } from './ops/openapi.js';
export { installGracefulShutdown } from './ops/shutdown.js';

/**
 * Every entity of the modules, for a host that opens the module's tables through a
 * DataSource of its own (reports, a migration job); the module itself registers its own.
 */
export const alertingEntities = [
  Incident,
  IncidentEvent,
  Delivery,
  Setting,
  SnsMessageRecord,
  Silence,
];
export {
  useAlertingBodyParsers,
  ALERTING_BODY_LIMIT_BYTES,
} from './ops/body-parsers.js';
