import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { Incident } from '../alerting/incident.entity.js';
import { IncidentEvent } from '../alerting/incident-event.entity.js';
import { Delivery } from '../alerting/notifier/delivery.entity.js';
import { Setting } from './setting.entity.js';
import { SnsMessageRecord } from '../sns/sns-message.entity.js';
import { alertingMigrations } from './migrations/index.js';
import { PagerDutyWebhookEventRecord } from '../pagerduty/pagerduty-webhook-event.entity.js';

/** Entities of the alerting module: a host app reusing its own connection registers these. */
export const alertingEntities = [
  Incident,
  IncidentEvent,
  Delivery,
  Setting,
  SnsMessageRecord,
  PagerDutyWebhookEventRecord,
];

/** TypeORM options for `DATABASE_URL` (`sqlite:<file>`, `sqlite::memory:`, `postgres://…`). */
export function dataSourceOptions(databaseUrl: string): DataSourceOptions {
  const common = {
    entities: alertingEntities,
    migrations: alertingMigrations,
    migrationsRun: false,
    synchronize: false,
    logging: false,
  } as const;
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    const database = file === ':memory:' ? ':memory:' : file;
    if (database !== ':memory:')
      mkdirSync(dirname(database), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database,
      // WAL with synchronous=NORMAL survives a killed process (only an OS crash can lose
      // the last commits); busy_timeout covers the CLI reading the file beside the service.
      prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 5000');
      },
    };
  }
  return { ...common, type: 'postgres', url: databaseUrl, poolSize: 10 };
}
