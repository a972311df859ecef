import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ddl } from '../table-prefix.js';

/** MessageIds of SNS deliveries already handled (duplicate suppression, with expiry). */
export class SnsMessages1764305100000 implements MigrationInterface {
  name = 'SnsMessages1764305100000';

  async up(runner: QueryRunner): Promise<void> {
    // Same DDL on both dialects: ISO 8601 strings in varchar, as in the initial schema.
    await ddl(
      runner,
      `CREATE TABLE sns_messages (
      message_id varchar(255) PRIMARY KEY,
      topic_arn varchar(1024) NOT NULL,
      type varchar(32) NOT NULL,
      outcome varchar(16) NOT NULL,
      received_at varchar(32) NOT NULL
    )`,
    );
    await ddl(
      runner,
      `CREATE INDEX ix_sns_messages_received ON sns_messages (received_at)`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await ddl(runner, `DROP TABLE sns_messages`);
  }
}
