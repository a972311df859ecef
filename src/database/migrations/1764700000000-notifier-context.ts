import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ddl } from '../table-prefix.js';

/**
 * The PagerDuty routing key kept with each incident becomes PagerDuty's part of an opaque
 * per-adapter context (`{"pagerduty":{"routingKey":…}}`): the core no longer knows which
 * adapter keeps what. Keys are JSON-escaped in SQL (backslash, then double quote).
 */
export class NotifierContext1764700000000 implements MigrationInterface {
  name = 'NotifierContext1764700000000';

  async up(runner: QueryRunner): Promise<void> {
    await ddl(
      runner,
      'ALTER TABLE incidents ADD COLUMN notifier_context text NULL',
    );
    await ddl(
      runner,
      `UPDATE incidents SET notifier_context = '{"pagerduty":{"routingKey":"' ||
         REPLACE(REPLACE(routing_key, '\\', '\\\\'), '"', '\\"') || '"}}'
       WHERE routing_key IS NOT NULL`,
    );
    await ddl(runner, 'ALTER TABLE incidents DROP COLUMN routing_key');
  }

  async down(runner: QueryRunner): Promise<void> {
    await ddl(
      runner,
      'ALTER TABLE incidents ADD COLUMN routing_key varchar(64) NULL',
    );
    await ddl(runner, 'ALTER TABLE incidents DROP COLUMN notifier_context');
  }
}
