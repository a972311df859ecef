import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import {
  HOLD_RELEASER,
  type HoldReleaser,
} from '../alerting/incident-router.port.js';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { MAX_RESOLVE_TIMEOUT_MS } from '../config/duration.js';
import { DatabaseService } from '../database/database.service.js';
import {
  DISTRIBUTED_LOCK,
  type DistributedLock,
} from '../database/distributed-lock.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { IncidentService } from '../alerting/incident.service.js';
import {
  RECONCILER_SOURCES,
  type ReconcilerSource,
} from './reconciler-source.port.js';

/**
 * What one tick did; `skipped` when another instance held the reconciler lock. Each
 * source adds its counters (CloudWatch: `alarmOk`, `alarmDeleted`), and `<name>Error`
 * when it could not be asked (nothing was resolved from it that tick).
 */
export interface ReconcileResult {
  skipped: boolean;
  stale: number;
  /** held incidents whose trigger went out (routing: the hold ended while open) */
  released?: number;
  /** set when the release pass stopped early; its incidents stay held until a later tick */
  releaseError?: string;
  alarmOk?: number;
  alarmDeleted?: number;
  cloudWatchError?: string;
  /** set when the stale pass stopped early (the database failed under it) */
  staleError?: string;
  /** incidents skipped because their row could not be handled; logged with the reason */
  failed?: number;
  [counter: string]: number | boolean | string | undefined;
}

interface OpenRow {
  id: string;
  last_seen_at: string;
  resolve_timeout_ms: number | string | null;
}

const LOCK_NAME = 'reconciler';
const RESOLVE_LABELS: Record<string, string> = {
  stale: 'stale',
  alarmOk: 'alarm-ok',
  alarmDeleted: 'alarm-deleted',
  released: 'released from hold',
  failed: 'skipped',
};
const PAGE_SIZE = 500;

// The WHERE terms repeat the partial indexes' own (ix_incidents_open_default,
// ix_incidents_open_override) so both SQLite and PostgreSQL walk them; the keyset's
// `last_seen_at >= $n` is the range start. Exported for the query-plan spec.
export const STALE_DEFAULT_SQL = `
  SELECT id, last_seen_at, resolve_timeout_ms FROM incidents
  WHERE open_key IS NOT NULL AND resolve_timeout_ms IS NULL
    AND last_seen_at < $1
    AND last_seen_at >= $2 AND (last_seen_at > $2 OR id > $3)
  ORDER BY last_seen_at, id
  LIMIT $4`;
export const STALE_OVERRIDE_SQL = `
  SELECT id, last_seen_at, resolve_timeout_ms FROM incidents
  WHERE open_key IS NOT NULL AND resolve_timeout_ms IS NOT NULL
    AND last_seen_at >= $1 AND (last_seen_at > $1 OR id > $2)
  ORDER BY last_seen_at, id
  LIMIT $3`;

/**
 * Closes incidents nobody will close otherwise: stale ones (not seen for their resolve
 * timeout), and those a source of truth says are over (CloudWatch: alarm back in OK, or
 * deleted). One tick at a time across instances; every close is conditional
 * (IncidentService.resolveIf), so even overlapping ticks resolve each incident once.
 */
@Injectable()
export class ReconcilerService {
  private readonly logger = new Logger(ReconcilerService.name);

  constructor(
    private readonly db: DatabaseService,
    private readonly incidents: IncidentService,
    @Inject(DISTRIBUTED_LOCK) private readonly lock: DistributedLock,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(RECONCILER_SOURCES) private readonly sources: ReconcilerSource[],
    @Optional()
    @Inject(HOLD_RELEASER)
    private readonly holds?: HoldReleaser,
  ) {}

  private zeros(): Record<string, number> {
    return Object.fromEntries(
      this.sources.flatMap((s) => s.counters.map((c) => [c, 0])),
    );
  }

  async tick(): Promise<ReconcileResult> {
    const outcome = await this.lock.tryWithLock(LOCK_NAME, () =>
      this.reconcile(),
    );
    if (!outcome.acquired) {
      this.logger.debug('reconcile skipped: another instance holds the lock');
      return { skipped: true, stale: 0, ...this.zeros() };
    }
    const r = outcome.value;
    const counts = Object.entries(r).filter(
      ([k, v]) => k !== 'skipped' && typeof v === 'number',
    ) as [string, number][];
    if (counts.some(([, n]) => n > 0)) {
      this.logger.log(
        `reconciled: ${counts.map(([k, n]) => `${n} ${RESOLVE_LABELS[k] ?? k}`).join(', ')}`,
      );
    }
    return r;
  }

  /** Without the lock: exposed so tests can prove the writes alone never double-resolve. */
  async reconcile(): Promise<ReconcileResult> {
    const result: ReconcileResult = {
      skipped: false,
      stale: 0,
      ...this.zeros(),
    };
    // Each pass on its own: a stale pass that fails must not keep lost OKs unresolved.
    try {
      const stale = await this.resolveStaleCounting(this.clock.now());
      result.stale = stale.resolved;
      if (stale.failed > 0) result.failed = stale.failed;
    } catch (error) {
      result.staleError = (error as Error).message;
      this.logger.error(
        `stale reconcile failed: ${result.staleError}`,
        (error as Error).stack,
      );
    }
    for (const source of this.sources) {
      try {
        Object.assign(result, await source.reconcile());
      } catch (error) {
        // Never resolve on an error: an unreachable CloudWatch would look like "every alarm deleted".
        result[`${source.name}Error`] = (error as Error).message;
        this.logger.warn(
          `${source.label} reconcile skipped: ${(error as Error).message}`,
        );
      }
    }
    // after the closes: an inhibiting incident closed this tick releases its targets now
    if (this.holds) {
      try {
        result.released = await this.holds.releaseDue();
      } catch (error) {
        // a held trigger waits for the next tick; nothing is lost
        result.releaseError = (error as Error).message;
        this.logger.error(
          `release of held incidents failed: ${result.releaseError}`,
        );
      }
    }
    return result;
  }

  /**
   * Two keyset-paged passes, each walking a partial index of open incidents in
   * last-seen order: incidents on the default timeout up to its cutoff only, then those
   * with their own `resolveTimeout` (compared here: timestamps are ISO text, so a
   * per-row timeout cannot be added to them in SQL portably). A scan of the whole table
   * instead stalled the event loop ~0.4 s every tick once 130 000 incidents were kept.
   */
  async resolveStale(now: Date): Promise<number> {
    return (await this.resolveStaleCounting(now)).resolved;
  }

  private async resolveStaleCounting(
    now: Date,
  ): Promise<{ resolved: number; failed: number }> {
    const cutoffOf = (timeoutMs: number) =>
      new Date(now.getTime() - timeoutMs).toISOString();
    const byDefault = await this.resolveStalePass(
      STALE_DEFAULT_SQL,
      [cutoffOf(this.config.incidentResolveTimeoutMs)],
      () => this.config.incidentResolveTimeoutMs,
      cutoffOf,
    );
    const own = await this.resolveStalePass(
      STALE_OVERRIDE_SQL,
      [],
      (row) => this.storedTimeout(row),
      cutoffOf,
    );
    return {
      resolved: byDefault.resolved + own.resolved,
      failed: byDefault.failed + own.failed,
    };
  }

  /**
   * Ingest keeps timeouts within 0..30 days, but a row written some other way (a manual
   * fix, an old release) may hold anything: it is brought back into that range, so it
   * still resolves one day and never makes a date computation throw for the whole pass.
   */
  private storedTimeout(row: OpenRow): number {
    const raw = Number(row.resolve_timeout_ms);
    const ms = Number.isFinite(raw)
      ? Math.min(Math.max(Math.round(raw), 0), MAX_RESOLVE_TIMEOUT_MS)
      : this.config.incidentResolveTimeoutMs;
    if (ms !== raw)
      this.logger.warn(
        `incident ${row.id}: stored resolve_timeout_ms ${String(row.resolve_timeout_ms)} is out of range; using ${ms}`,
      );
    return ms;
  }

  private async resolveStalePass(
    sql: string,
    params: unknown[],
    timeoutOf: (row: OpenRow) => number,
    cutoffOf: (timeoutMs: number) => string,
  ): Promise<{ resolved: number; failed: number }> {
    let resolved = 0;
    let failed = 0;
    let after = { lastSeenAt: '', id: '' };
    for (;;) {
      const rows = await this.db.read((m) =>
        this.db.query<OpenRow>(m, sql, [
          ...params,
          after.lastSeenAt,
          after.id,
          PAGE_SIZE,
        ]),
      );
      for (const row of rows) {
        try {
          const timeoutMs = timeoutOf(row);
          const cutoff = cutoffOf(timeoutMs);
          if (row.last_seen_at >= cutoff) continue;
          const done = await this.incidents.resolveIf(
            row.id,
            'stale',
            (i) => i.lastSeenAt < cutoff,
            { lastSeenAt: row.last_seen_at, resolveTimeoutMs: timeoutMs },
          );
          if (done) resolved++;
        } catch (error) {
          // One row that cannot be read or closed must not keep every other one open.
          failed++;
          this.logger.warn(
            `incident ${row.id} skipped by the stale reconcile: ${(error as Error).message}`,
          );
        }
      }
      if (rows.length < PAGE_SIZE) return { resolved, failed };
      const last = rows[rows.length - 1];
      after = { lastSeenAt: last.last_seen_at, id: last.id };
    }
  }
}
