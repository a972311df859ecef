import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { alertingMigrations } from './migrations/index.js';

/** The name of the module's own TypeORM DataSource (`@InjectDataSource(ALERTING_DATA_SOURCE)`). */
export const ALERTING_DATA_SOURCE = 'alerting';

/**
 * TypeORM options for `DATABASE_URL` (`sqlite:<file>`, `sqlite::memory:`, `postgres://…`).
 * Entities are those the imported modules register (`autoLoadEntities`); every table, the
 * migrations' own included, is named `tablePrefix` + name.
 */
export function dataSourceOptions(
  databaseUrl: string,
  tablePrefix = '',
): DataSourceOptions {
  const common = {
    name: ALERTING_DATA_SOURCE,
    migrations: alertingMigrations,
    migrationsRun: false,
    migrationsTableName: `${tablePrefix}migrations`,
    entityPrefix: tablePrefix,
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
