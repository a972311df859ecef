import type { AlertingConfig } from '../config/alerting.config.js';
import type { Clock } from './clock.js';
import type { Notifier } from './notifier/notifier.port.js';

export const ALERTING_OPTIONS = Symbol('ALERTING_OPTIONS');
export const ALERTING_CONFIG = Symbol('ALERTING_CONFIG');

/** Options of {@link AlertingModule.forRoot}. */
export interface AlertingModuleOptions {
  /** the validated configuration (see `loadAlertingConfig`) */
  config: AlertingConfig;
  /**
   * Notifier adapters of the host application, delivered through the same outbox as the
   * configured ones (`NOTIFIERS`); each needs a unique `name`.
   */
  notifiers?: Notifier[];
  /** run the scheduled reconciler and the dispatcher's polling fallback; default true */
  schedule?: boolean;
  /** the time source of every module; `alerting test` moves one to run hours in milliseconds */
  clock?: Clock;
}
