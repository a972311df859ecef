import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ddl } from '../table-prefix.js';

/**
 * The reconciler's reads of open incidents walked the whole incidents table (resolved
 * ones included) every tick. Partial indexes hold only open incidents, in the order the
 * reconciler reads them. (status) alone still serves the list API and the metrics count.
 * Cost to ingest: a new incident writes one index entry more than before (status, and
 * its open index); a deduplicated alert's new last_seen_at rewrites the open index where
 * it used to rewrite (status, last_seen_at).
 */
export class OpenIncidentIndexes1764500000000 implements MigrationInterface {
  name = 'OpenIncidentIndexes1764500000000';

  async up(runner: QueryRunner): Promise<void> {
    await ddl(runner, 'DROP INDEX ix_incidents_status_last_seen');
    await ddl(runner, 'CREATE INDEX ix_incidents_status ON incidents (status)');
    await ddl(
      runner,
      `CREATE INDEX ix_incidents_open_default ON incidents (last_seen_at, id)
       WHERE open_key IS NOT NULL AND resolve_timeout_ms IS NULL`,
    );
    await ddl(
      runner,
      `CREATE INDEX ix_incidents_open_override ON incidents (last_seen_at, id)
       WHERE open_key IS NOT NULL AND resolve_timeout_ms IS NOT NULL`,
    );
    await ddl(
      runner,
      `CREATE INDEX ix_incidents_open_alarm ON incidents (id)
       WHERE open_key IS NOT NULL AND alarm_arn IS NOT NULL`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const name of [
      'ix_incidents_open_alarm',
      'ix_incidents_open_override',
      'ix_incidents_open_default',
      'ix_incidents_status',
    ])
      await ddl(runner, `DROP INDEX ${name}`);
    await ddl(
      runner,
      'CREATE INDEX ix_incidents_status_last_seen ON incidents (status, last_seen_at)',
    );
  }
}
