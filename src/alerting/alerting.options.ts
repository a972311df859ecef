import type { AlertingOptions } from '../config/alerting.config.js';
import type { DatabaseOptions } from '../database/database.module.js';
import type { Clock } from '../ops/clock.js';

export const ALERTING_OPTIONS = Symbol('ALERTING_OPTIONS');

/** Options of {@link AlertingModule.forRoot}. Nothing is read from `process.env`. */
export interface AlertingModuleOptions {
  /** defaults applied, then validated: one error lists every bad field */
  config?: AlertingOptions;
  /** the module's own DataSource; default `sqlite:./data/alerting.sqlite`, no table prefix */
  database?: DatabaseOptions;
  /**
   * `{ apiKeys }`: the module's guard asks every one of its routes for one of them
   * (`X-API-Key: <key>`, else `Authorization: Bearer <key>`). `false`: no guard of the
   * module's own; the host's guards apply (skip {@link AlertingPublic} routes there).
   * `failuresPerMinute`: invalid keys an address may present a minute before it is
   * locked out (429, or 503 on webhook routes); 0 off; default 20.
   * Default: none, allowed only when `config.appEnv` is `development`.
   */
  auth?: false | { apiKeys: string[]; failuresPerMinute?: number };
  /**
   * Run the dispatcher's polling fallback and the reconciler's ticks; default true. Plain
   * timers: the module never imports `ScheduleModule.forRoot()`, a host's stays its own.
   */
  schedule?: boolean;
  /** the time source of every module; `alerting test` moves one to run hours in milliseconds */
  clock?: Clock;
}
