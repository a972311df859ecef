import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import { Delivery } from './delivery.entity.js';

const CLAIM_SQL = `
  UPDATE deliveries SET lease_owner = $1, lease_until = $2
  WHERE id IN (
    SELECT d.id FROM deliveries d
    WHERE d.state = 'pending' AND d.next_attempt_at <= $3
      AND (d.lease_until IS NULL OR d.lease_until < $3)
      AND NOT EXISTS (
        SELECT 1 FROM deliveries p
        WHERE p.state = 'pending' AND p.notifier = d.notifier AND p.dedup_key = d.dedup_key AND p.id < d.id
      )
      __PAUSED__
    ORDER BY d.next_attempt_at, d.id
    LIMIT $4 __LOCK__
  )
  RETURNING id`;

/**
 * The outbox's SQL on the delivery path: claim, lease renewal, outcome. Every write is
 * conditional on the lease owner, so a row reclaimed by another instance after our lease
 * ran out is never written by us.
 */
@Injectable()
export class DeliveryRepository {
  constructor(private readonly db: DatabaseService) {}

  /** Drops every lease (SQLite at start: one process owns the file). */
  async releaseLeases(): Promise<void> {
    await this.db.tx((m) =>
      this.db.query(
        m,
        `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE state = 'pending'`,
        [],
      ),
    );
  }

  /** Leases up to `limit` claimable rows to `owner` and returns them, oldest due first. */
  async claim(
    owner: string,
    leaseUntil: string,
    now: string,
    limit: number,
    paused: string[],
  ): Promise<Delivery[]> {
    const sql = CLAIM_SQL.replace(
      '__LOCK__',
      this.db.isPostgres ? 'FOR UPDATE SKIP LOCKED' : '',
    ).replace(
      '__PAUSED__',
      paused.length > 0
        ? `AND d.notifier NOT IN (${paused.map((_, i) => `$${i + 5}`).join(', ')})`
        : '',
    );
    return this.db.tx(async (m) => {
      const ids = await this.db.query<{ id: number | string }>(m, sql, [
        owner,
        leaseUntil,
        now,
        limit,
        ...paused,
      ]);
      if (ids.length === 0) return [];
      const list = ids.map((r) => Number(r.id));
      const rows = await this.db.query(
        m,
        `SELECT * FROM deliveries WHERE id IN (${list.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY id`,
        list,
      );
      return rows.map((row) => this.db.fromRow(Delivery, row));
    });
  }

  async renewLease(id: number, owner: string, leaseUntil: string) {
    return this.db.tx((m) =>
      this.db.query(
        m,
        'UPDATE deliveries SET lease_until = $3 WHERE id = $1 AND lease_owner = $2',
        [id, owner, leaseUntil],
      ),
    );
  }

  /** Records an attempt's outcome and drops the lease, if `owner` still holds it. */
  async finish(owner: string, next: Delivery): Promise<void> {
    await this.db.tx((m) =>
      this.db.query(
        m,
        `UPDATE deliveries SET state = $3, attempts = $4, next_attempt_at = $5, last_error = $6,
           last_response = $7, delivered_at = $8, lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2`,
        [
          next.id,
          owner,
          next.state,
          next.attempts,
          next.nextAttemptAt,
          next.lastError,
          next.lastResponse === null || next.lastResponse === undefined
            ? null
            : JSON.stringify(next.lastResponse),
          next.deliveredAt,
        ],
      ),
    );
  }
}
