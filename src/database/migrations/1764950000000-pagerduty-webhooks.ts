import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ddl } from '../table-prefix.js';

/**
 * PagerDuty two-way: the PagerDuty incident each of ours became, the occurred_at of the
 * last webhook applied (so an older one cannot undo a newer one), and the webhook event
 * ids already applied, unique, so a redelivery is a no-op on any instance. Keys over 255
 * characters reach PagerDuty as their SHA-256; the open ones are indexed apart so a
 * webhook quoting that form finds its incident without reading the others.
 */
export class PagerDutyWebhooks1764950000000 implements MigrationInterface {
  name = 'PagerDutyWebhooks1764950000000';

  async up(runner: QueryRunner): Promise<void> {
    for (const column of [
      'pagerduty_incident_id varchar(64) NULL',
      'pagerduty_incident_number integer NULL',
      'pagerduty_html_url varchar(2048) NULL',
      'pagerduty_event_at varchar(32) NULL',
    ])
      await ddl(runner, `ALTER TABLE incidents ADD COLUMN ${column}`);
    await ddl(
      runner,
      `CREATE INDEX ix_incidents_open_long_key ON incidents (id)
       WHERE open_key IS NOT NULL AND length(dedup_key) > 255`,
    );
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
    await ddl(runner, 'DROP INDEX ix_incidents_open_long_key');
    for (const column of [
      'pagerduty_event_at',
      'pagerduty_html_url',
      'pagerduty_incident_number',
      'pagerduty_incident_id',
    ])
      await ddl(runner, `ALTER TABLE incidents DROP COLUMN ${column}`);
  }
}
