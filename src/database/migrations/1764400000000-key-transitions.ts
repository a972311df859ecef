import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ddl } from '../table-prefix.js';

/**
 * The source-side time of the last state change applied per dedup key, kept apart from
 * incidents: an OK that finds no incident must still outrank an older ALARM arriving later.
 */
export class KeyTransitions1764400000000 implements MigrationInterface {
  name = 'KeyTransitions1764400000000';

  async up(runner: QueryRunner): Promise<void> {
    await ddl(
      runner,
      `CREATE TABLE key_transitions (
      dedup_key varchar(512) PRIMARY KEY,
      last_transition_at varchar(32) NOT NULL
    )`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await ddl(runner, 'DROP TABLE key_transitions');
  }
}
