import type { MigrationInterface, QueryRunner } from 'typeorm';
import { pagerDutyDedupKey } from '../../pagerduty/pagerduty-event.builder.js';
import { ddl, tablePrefixOf, withTablePrefix } from '../table-prefix.js';

/**
 * PagerDuty two-way: the PagerDuty incident each of ours became, the occurred_at of the
 * last webhook applied (so an older one cannot undo a newer one), the dedup key as sent
 * when a long key was replaced by its SHA-256 (webhooks quote that form), and the
 * webhook event ids already applied, unique, so a redelivery is a no-op on any instance.
 */
export class PagerDutyWebhooks1764950000000 implements MigrationInterface {
  name = 'PagerDutyWebhooks1764950000000';

  async up(runner: QueryRunner): Promise<void> {
    for (const column of [
      'pagerduty_incident_id varchar(64) NULL',
      'pagerduty_incident_number integer NULL',
      'pagerduty_html_url varchar(2048) NULL',
      'pagerduty_event_at varchar(32) NULL',
      'pagerduty_dedup_key varchar(64) NULL',
    ])
      await ddl(runner, `ALTER TABLE incidents ADD COLUMN ${column}`);
    // Only long keys have a different sent form: the index holds those rows alone.
    await ddl(
      runner,
      `CREATE INDEX ix_incidents_pagerduty_dedup_key ON incidents (pagerduty_dedup_key, created_at)
       WHERE pagerduty_dedup_key IS NOT NULL`,
    );
    const prefix = tablePrefixOf(runner.connection);
    const long: { id: string; dedup_key: string }[] = await runner.query(
      withTablePrefix(
        'SELECT id, dedup_key FROM incidents WHERE length(dedup_key) > 255',
        prefix,
      ),
    );
    const [p1, p2] =
      runner.connection.options.type === 'postgres' ? ['$1', '$2'] : ['?', '?'];
    for (const row of long) {
      const sent = pagerDutyDedupKey(row.dedup_key);
      if (sent !== row.dedup_key)
        await runner.query(
          withTablePrefix(
            `UPDATE incidents SET pagerduty_dedup_key = ${p1} WHERE id = ${p2}`,
            prefix,
          ),
          [sent, row.id],
        );
    }
    await ddl(
      runner,
      `CREATE TABLE pagerduty_webhook_events (
        event_id varchar(64) PRIMARY KEY,
        event_type varchar(64) NOT NULL,
        incident_id varchar(36) NOT NULL,
        occurred_at varchar(32) NOT NULL,
        received_at varchar(32) NOT NULL
      )`,
    );
    await ddl(
      runner,
      'CREATE INDEX ix_pagerduty_webhook_events_received ON pagerduty_webhook_events (received_at)',
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await ddl(runner, 'DROP TABLE pagerduty_webhook_events');
    await ddl(runner, 'DROP INDEX ix_incidents_pagerduty_dedup_key');
    for (const column of [
      'pagerduty_dedup_key',
      'pagerduty_event_at',
      'pagerduty_html_url',
      'pagerduty_incident_number',
      'pagerduty_incident_id',
    ])
      await ddl(runner, `ALTER TABLE incidents DROP COLUMN ${column}`);
  }
}
