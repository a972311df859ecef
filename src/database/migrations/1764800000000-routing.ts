import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ddl } from '../table-prefix.js';

/**
 * Routing and noise control: the route decided when an incident opens, what holds its page
 * back (a partial index of held open incidents: the release pass reads those only), and
 * the silences (by end, for the active ones; by change, for other instances to notice).
 */
export class Routing1764800000000 implements MigrationInterface {
  name = 'Routing1764800000000';

  async up(runner: QueryRunner): Promise<void> {
    await ddl(runner, 'ALTER TABLE incidents ADD COLUMN route text NULL');
    await ddl(
      runner,
      'ALTER TABLE incidents ADD COLUMN suppressed_by text NULL',
    );
    await ddl(
      runner,
      `CREATE INDEX ix_incidents_held ON incidents (id)
       WHERE open_key IS NOT NULL AND suppressed_by IS NOT NULL`,
    );
    await ddl(
      runner,
      `CREATE TABLE silences (
         id varchar(36) PRIMARY KEY NOT NULL,
         matchers text NOT NULL,
         starts_at varchar(32) NOT NULL,
         ends_at varchar(32) NOT NULL,
         comment text NOT NULL,
         created_by varchar(255) NOT NULL,
         created_at varchar(32) NOT NULL,
         updated_at varchar(32) NOT NULL
       )`,
    );
    await ddl(runner, 'CREATE INDEX ix_silences_ends_at ON silences (ends_at)');
    await ddl(
      runner,
      'CREATE INDEX ix_silences_updated_at ON silences (updated_at)',
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await ddl(runner, 'DROP TABLE silences');
    await ddl(runner, 'DROP INDEX ix_incidents_held');
    await ddl(runner, 'ALTER TABLE incidents DROP COLUMN suppressed_by');
    await ddl(runner, 'ALTER TABLE incidents DROP COLUMN route');
  }
}
