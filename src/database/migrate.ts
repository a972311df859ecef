import type { DataSource } from 'typeorm';

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
