import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  DatabaseService,
  type TxWriter,
} from '../database/database.service.js';
import type { IncidentHold } from './incident-router.port.js';
import { Incident } from './incident.entity.js';

/**
 * The incidents' SQL on the write path: written with PostgreSQL placeholders and bare
 * table names (DatabaseService adapts both to the dialect and the table prefix). Reads
 * that lock do so on PostgreSQL only; SQLite's writes are serialized already.
 */
@Injectable()
export class IncidentRepository {
  constructor(private readonly db: DatabaseService) {}

  /** A deduplicated alert: one more occurrence, and what it says now. */
  async seenAgain(
    w: TxWriter,
    id: string,
    seen: Pick<
      Incident,
      | 'occurrences'
      | 'lastSeenAt'
      | 'severity'
      | 'currentValue'
      | 'threshold'
      | 'description'
      | 'lastTransitionAt'
    >,
  ): Promise<void> {
    await w.query(
      `UPDATE incidents SET occurrences = occurrences + 1, last_seen_at = $2, severity = $3,
         current_value = $4, threshold = $5, description = $6, last_transition_at = $7
       WHERE id = $1`,
      [
        id,
        seen.lastSeenAt,
        seen.severity,
        seen.currentValue,
        seen.threshold,
        seen.description,
        seen.lastTransitionAt,
      ],
    );
  }

  /**
   * Repeats answered before they were written (SQLite, see IncidentService): `count` more
   * occurrences and what the last of them said. An older write never moves last-seen back.
   */
  async seenRepeatedly(
    m: EntityManager,
    id: string,
    count: number,
    seen: Pick<
      Incident,
      | 'lastSeenAt'
      | 'severity'
      | 'currentValue'
      | 'threshold'
      | 'description'
      | 'lastTransitionAt'
    >,
  ): Promise<void> {
    await this.db.query(
      m,
      `UPDATE incidents SET occurrences = occurrences + $2, last_seen_at = max(last_seen_at, $3),
         severity = $4, current_value = $5, threshold = $6, description = $7,
         last_transition_at = $8
       WHERE id = $1`,
      [
        id,
        count,
        seen.lastSeenAt,
        seen.severity,
        seen.currentValue,
        seen.threshold,
        seen.description,
        seen.lastTransitionAt,
      ],
    );
  }

  /** The incident, locked (PostgreSQL), if it is open and held; else null. */
  async lockIfHeld(m: EntityManager, id: string): Promise<Incident | null> {
    const [row] = await this.db.query(
      m,
      this.db.forUpdate(
        'SELECT * FROM incidents WHERE id = $1 AND open_key IS NOT NULL AND suppressed_by IS NOT NULL',
      ),
      [id],
    );
    return row ? this.db.fromRow(Incident, row) : null;
  }

  /** What holds the incident's page back now; null: nothing, it pages. */
  async setHold(
    w: TxWriter,
    id: string,
    hold: IncidentHold | null,
  ): Promise<void> {
    await w.query('UPDATE incidents SET suppressed_by = $2 WHERE id = $1', [
      id,
      hold ? JSON.stringify(hold) : null,
    ]);
  }

  /** Locks the incident (PostgreSQL) if it is still open; false when it is not. */
  async lockIfOpen(m: EntityManager, id: string): Promise<boolean> {
    const rows = await this.db.query(
      m,
      this.db.forUpdate(
        'SELECT id FROM incidents WHERE id = $1 AND open_key IS NOT NULL',
      ),
      [id],
    );
    return rows.length > 0;
  }

  /**
   * Notes the key's newest source-side transition time; false when `at` is older than
   * one already applied. Conditional upsert, so concurrent writers keep the newest.
   */
  async recordTransition(
    w: TxWriter,
    dedupKey: string,
    at: string,
  ): Promise<boolean> {
    const [row] = await w.query<{ last_transition_at: string }>(
      this.db.forUpdate(
        'SELECT last_transition_at FROM key_transitions WHERE dedup_key = $1',
      ),
      [dedupKey],
    );
    if (row && at < row.last_transition_at) return false;
    await w.query(
      `INSERT INTO key_transitions (dedup_key, last_transition_at) VALUES ($1, $2)
       ON CONFLICT (dedup_key) DO UPDATE SET last_transition_at = excluded.last_transition_at
       WHERE excluded.last_transition_at > key_transitions.last_transition_at`,
      [dedupKey, at],
    );
    return true;
  }

  /** The open incidents of a batch's keys in one read per 500 keys, locked on PostgreSQL. */
  async prefetchOpen(
    w: TxWriter,
    keys: string[],
  ): Promise<Map<string, Incident>> {
    const unique = [...new Set(keys)];
    const open = new Map<string, Incident>();
    for (let i = 0; i < unique.length; i += 500) {
      const part = unique.slice(i, i + 500);
      const rows = await w.query(
        this.db.forUpdate(
          `SELECT * FROM incidents WHERE open_key IN (${part.map((_, n) => `$${n + 1}`).join(', ')}) ORDER BY open_key`,
        ),
        part,
      );
      for (const row of rows) {
        const incident = this.db.fromRow(Incident, row);
        open.set(incident.dedupKey, incident);
      }
    }
    return open;
  }

  async findOpen(m: EntityManager, dedupKey: string): Promise<Incident | null> {
    const [row] = await this.db.query(
      m,
      this.db.forUpdate('SELECT * FROM incidents WHERE open_key = $1'),
      [dedupKey],
    );
    return row ? this.db.fromRow(Incident, row) : null;
  }

  findLatest(m: EntityManager, dedupKey: string): Promise<Incident | null> {
    return m.findOne(Incident, {
      where: { dedupKey },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
  }
}
