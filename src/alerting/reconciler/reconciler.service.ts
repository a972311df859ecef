import type { DescribeAlarmsCommandOutput } from '@aws-sdk/client-cloudwatch';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CLOUDWATCH_CLIENT,
  type CloudWatchAccess,
} from '../../cloudwatch/cloudwatch.providers.js';
import type { AlertingConfig } from '../../config/alerting.config.js';
import { MAX_RESOLVE_TIMEOUT_MS } from '../../config/duration.js';
import { DatabaseService } from '../../database/database.service.js';
import {
  DISTRIBUTED_LOCK,
  type DistributedLock,
} from '../../database/distributed-lock.js';
import { ALERTING_CONFIG } from '../alerting.options.js';
import { CLOCK, type Clock } from '../clock.js';
import { IncidentService } from '../incident.service.js';

/** What one tick did; `skipped` when another instance held the reconciler lock. */
export interface ReconcileResult {
  skipped: boolean;
  stale: number;
  alarmOk: number;
  alarmDeleted: number;
  /** set when CloudWatch could not be asked; nothing was resolved from it this tick */
  cloudWatchError?: string;
  /** set when the stale pass stopped early (the database failed under it) */
  staleError?: string;
  /** incidents skipped because their row could not be handled; logged with the reason */
  failed?: number;
}

interface OpenRow {
  id: string;
  last_seen_at: string;
  resolve_timeout_ms: number | string | null;
}

interface AlarmRow {
  id: string;
  alarm_name: string;
  alarm_arn: string;
}

const LOCK_NAME = 'reconciler';
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
export const OPEN_ALARMS_SQL = `
  SELECT id, alarm_name, alarm_arn FROM incidents
  WHERE open_key IS NOT NULL AND alarm_arn IS NOT NULL
  ORDER BY id`;
/** DescribeAlarms accepts at most 100 AlarmNames per call. */
const DESCRIBE_BATCH = 100;

/**
 * Closes incidents nobody will close otherwise: stale ones (not seen for their resolve
 * timeout) and CloudWatch ones whose OK was lost (alarm back in OK, or deleted). One tick
 * at a time across instances; every close is conditional (IncidentService.resolveIf), so
 * even overlapping ticks resolve each incident once.
 */
@Injectable()
export class ReconcilerService {
  private readonly logger = new Logger(ReconcilerService.name);

  constructor(
    private readonly db: DatabaseService,
    private readonly incidents: IncidentService,
    @Inject(DISTRIBUTED_LOCK) private readonly lock: DistributedLock,
    @Inject(CLOUDWATCH_CLIENT) private readonly cloudWatch: CloudWatchAccess,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async tick(): Promise<ReconcileResult> {
    const outcome = await this.lock.tryWithLock(LOCK_NAME, () =>
      this.reconcile(),
    );
    if (!outcome.acquired) {
      this.logger.debug('reconcile skipped: another instance holds the lock');
      return { skipped: true, stale: 0, alarmOk: 0, alarmDeleted: 0 };
    }
    const r = outcome.value;
    if (r.stale + r.alarmOk + r.alarmDeleted + (r.failed ?? 0) > 0) {
      this.logger.log(
        `reconciled: ${r.stale} stale, ${r.alarmOk} alarm-ok, ${r.alarmDeleted} alarm-deleted, ${r.failed ?? 0} skipped`,
      );
    }
    return r;
  }

  /** Without the lock: exposed so tests can prove the writes alone never double-resolve. */
  async reconcile(): Promise<ReconcileResult> {
    const result: ReconcileResult = {
      skipped: false,
      stale: 0,
      alarmOk: 0,
      alarmDeleted: 0,
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
    if (this.config.reconcileCloudWatch) {
      try {
        Object.assign(result, await this.resolveLostAlarms());
      } catch (error) {
        // Never resolve on an error: an unreachable CloudWatch would look like "every alarm deleted".
        result.cloudWatchError = (error as Error).message;
        this.logger.warn(
          `CloudWatch reconcile skipped: ${result.cloudWatchError}`,
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

  /**
   * An OK that never arrived (SNS gave up, the service was down) would leave the incident
   * open until it goes stale; CloudWatch itself knows better. Only alarms in our region are
   * asked: DescribeAlarms elsewhere would not find them and we would call them deleted.
   */
  async resolveLostAlarms(): Promise<{
    alarmOk: number;
    alarmDeleted: number;
  }> {
    const { client } = await this.cloudWatch();
    const region = await client.config.region();
    const rows = (
      await this.db.read((m) => this.db.query<AlarmRow>(m, OPEN_ALARMS_SQL, []))
    ).filter((r) => r.alarm_arn.split(':')[3] === region);
    const result = { alarmOk: 0, alarmDeleted: 0 };
    const names = [...new Set(rows.map((r) => r.alarm_name))];
    for (let i = 0; i < names.length; i += DESCRIBE_BATCH) {
      const batch = names.slice(i, i + DESCRIBE_BATCH);
      // Anything seen after we asked is newer than CloudWatch's answer and wins over it.
      const askedAt = this.clock.now().toISOString();
      const states = await this.describe(batch);
      for (const row of rows.filter((r) => batch.includes(r.alarm_name))) {
        const state = states.get(row.alarm_name);
        const reason =
          state === undefined
            ? 'alarm-deleted'
            : state === 'OK'
              ? 'alarm-ok'
              : null;
        if (!reason) continue;
        try {
          const done = await this.incidents.resolveIf(
            row.id,
            reason,
            (inc) => inc.lastSeenAt <= askedAt,
            {
              alarmName: row.alarm_name,
              alarmArn: row.alarm_arn,
            },
          );
          if (done)
            result[reason === 'alarm-ok' ? 'alarmOk' : 'alarmDeleted']++;
        } catch (error) {
          this.logger.warn(
            `incident ${row.id} skipped by the CloudWatch reconcile: ${(error as Error).message}`,
          );
        }
      }
    }
    return result;
  }

  private async describe(
    alarmNames: string[],
  ): Promise<Map<string, string | undefined>> {
    const states = new Map<string, string | undefined>();
    const { client, sdk } = await this.cloudWatch();
    let nextToken: string | undefined;
    do {
      const page: DescribeAlarmsCommandOutput = await client.send(
        new sdk.DescribeAlarmsCommand({
          AlarmNames: alarmNames,
          // Without AlarmTypes CloudWatch leaves composite alarms out, and they would look deleted.
          AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          MaxRecords: DESCRIBE_BATCH,
          NextToken: nextToken,
        }),
      );
      for (const a of [
        ...(page.MetricAlarms ?? []),
        ...(page.CompositeAlarms ?? []),
      ]) {
        if (a.AlarmName) states.set(a.AlarmName, a.StateValue);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return states;
  }
}
