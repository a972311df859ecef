import { DataSource, type DataSourceOptions } from 'typeorm';
import { migrationOptions } from './data-source.options.js';

/** Arbitrary but fixed: every instance of this service contends for the same lock. */
const MIGRATION_LOCK_ID = 7_318_004_211;

/**
 * Runs pending migrations; on PostgreSQL under a session advisory lock so instances
 * starting together migrate once, the others waiting and then finding nothing to do.
 */
export async function runMigrationsLocked(
  dataSource: DataSource,
): Promise<void> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'all' });
    return;
  }
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await dataSource.runMigrations({ transaction: 'all' });
  } finally {
    await runner
      .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID])
      .catch(() => undefined);
    await runner.release();
  }
}

/**
 * The service's DataSource, migrated. On PostgreSQL migrations run on a connection of
 * their own without the service's statement deadline (see `migrationOptions`).
 */
export async function openMigratedDataSource(
  options: DataSourceOptions,
): Promise<DataSource> {
  if (options.type !== 'postgres') {
    const dataSource = await new DataSource(options).initialize();
    await runMigrationsLocked(dataSource);
    return dataSource;
  }
  const migrator = await new DataSource(migrationOptions(options)).initialize();
  try {
    await runMigrationsLocked(migrator);
  } finally {
    await migrator.destroy();
  }
  return new DataSource(options).initialize();
}
