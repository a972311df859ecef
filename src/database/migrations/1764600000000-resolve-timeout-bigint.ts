import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ddl } from '../table-prefix.js';

/**
 * A per-alert resolveTimeout goes up to 30 days, 2 592 000 000 ms: over PostgreSQL's
 * 32-bit `integer` (a 500 for `"30d"`). SQLite's INTEGER is already 64-bit.
 */
export class ResolveTimeoutBigint1764600000000 implements MigrationInterface {
  name = 'ResolveTimeoutBigint1764600000000';

  async up(runner: QueryRunner): Promise<void> {
    if (runner.connection.options.type !== 'postgres') return;
    await ddl(
      runner,
      'ALTER TABLE incidents ALTER COLUMN resolve_timeout_ms TYPE bigint',
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    if (runner.connection.options.type !== 'postgres') return;
    await ddl(
      runner,
      'ALTER TABLE incidents ALTER COLUMN resolve_timeout_ms TYPE integer',
    );
  }
}
