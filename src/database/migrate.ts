import { DataSource, type DataSourceOptions } from 'typeorm';
import { migrationOptions } from './data-source.options.js';

/** Arbitrary but fixed: every instance of this service contends for the same lock. */
const MIGRATION_LOCK_ID = 7_318_004_211;

/**
 * Runs the alerting module's pending migrations on `dataSource` (its `entityPrefix` names
 * the tables). On PostgreSQL under a session advisory lock, so instances (or hosts) starting
 * together migrate once, the others waiting and then finding nothing to do. The module
 * runs it at start on its own DataSource; export for a host that migrates in a job of its own.
 */
export async function runAlertingMigrations(
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
    await runAlertingMigrations(dataSource);
    return dataSource;
  }
  const migrator = await new DataSource(migrationOptions(options)).initialize();
  try {
    await runAlertingMigrations(migrator);
  } finally {
    await migrator.destroy();
  }
  return new DataSource(options).initialize();
}
