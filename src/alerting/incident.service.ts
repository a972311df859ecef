import { uuidv7 } from '../database/uuid7.js';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  Optional,
} from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AlertingConfig } from '../config/alerting.config.js';
import { parseDuration } from '../config/duration.js';
import {
  DatabaseService,
  isRetryableConflict,
  TxWriter,
} from '../database/database.service.js';
import type { IngestItem, IngestResult, Severity } from './alert.types.js';
import { ALERTING_CONFIG } from '../config/alerting.config.js';
import { AlertingError } from '../ops/alerting.errors.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { IncidentEvent } from './incident-event.entity.js';
import { Incident } from './incident.entity.js';
import { NotifierRegistry } from '../notifier/notifier.registry.js';
import { OutboxService } from '../notifier/outbox.service.js';
import { IncidentRepository } from './incident.repository.js';
import { toSnapshot } from './incident.snapshot.js';
import { AlertingMetrics } from '../ops/alerting.metrics.js';
import {
  INCIDENT_ROUTER,
  type IncidentHold,
  type IncidentRouter,
  type RouterBatch,
} from './incident-router.port.js';
import type { NotificationAction } from '../notifier/notifier.port.js';
import { validateAlerts } from './alert-validation.js';
import { KnownOpenIncidents, type KnownIncident } from './known-open.js';

interface NormalizedAlert {
  dedupKey: string;
  severity: Severity;
  alarmName: string;
  metricName: string | null;
  threshold: number | null;
  currentValue: number | null;
  timestamp: string;
  environment: string;
  description: string | null;
  recommendations: string[];
  status: 'firing' | 'resolved';
  source: string | null;
  component: string | null;
  group: string | null;
  class: string | null;
  links: { href: string; text?: string }[];
  customDetails: Record<string, unknown>;
  resolveTimeoutMs: number | null;
  transitionAt: string | null;
  recordOnly: boolean;
  ingestSource: string;
  alarmArn: string | null;
}

interface IngestRequest {
  alerts: NormalizedAlert[];
  now: string;
  context: Incident['notifierContext'];
}

type Seen = Omit<KnownIncident, 'id'> & { lastSeenAt: string };

/** A flush of the repeats that failed waits this long before the next try. */
const SEEN_RETRY_MS = 1000;

interface GroupMember {
  request: IngestRequest;
  resolve: (results: IngestResult[]) => void;
  reject: (error: unknown) => void;
}

export type ResolveReason =
  'alert' | 'manual' | 'stale' | 'alarm-ok' | 'alarm-deleted' | 'pagerduty';

/** Incidents: dedup by key, lifecycle, timeline, and the outbox rows of every transition. */
@Injectable()
export class IncidentService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(IncidentService.name);
  /** SQLite: the ingest requests waiting to be applied together (see joinGroup) */
  private gathering: GroupMember[] | null = null;
  /** SQLite: open incidents known to this process (see repeatsOfKnown); null on PostgreSQL */
  private readonly known: KnownOpenIncidents | null;
  /** repeats answered from `known`, by incident id, not yet written */
  private readonly seenBehind = new Map<
    string,
    { count: number; seen: Seen }
  >();
  /** the queued write of `seenBehind`, until it starts */
  private seenFlush: Promise<void> | null = null;
  private seenWritten: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: DatabaseService,
    private readonly outbox: OutboxService,
    private readonly repo: IncidentRepository,
    private readonly notifiers: NotifierRegistry,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() private readonly metrics?: AlertingMetrics,
    @Optional()
    @Inject(INCIDENT_ROUTER)
    private readonly router?: IncidentRouter,
    @Optional() known?: KnownOpenIncidents,
  ) {
    this.known = db.isPostgres ? null : (known ?? null);
  }

  /** Repeats answered before their write: it is queued already; wait for it. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.seenWritten;
  }

  /**
   * Validates a batch (every edge's alerts pass the same rules: AlertingError `invalid`
   * listing each problem) and applies it in one transaction: all of it is stored, or
   * none of it.
   */
  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    const clockNow = this.clock.now();
    const now = clockNow.toISOString();
    const alerts = validateAlerts(items, clockNow).map((item) =>
      this.normalize(item, now),
    );
    const repeats = this.repeatsOfKnown(alerts, now);
    if (repeats) {
      for (const alert of alerts)
        this.metrics?.alertIngested(alert.ingestSource);
      return repeats;
    }
    // A repeat arriving from now on must queue behind this close, not be answered from memory.
    for (const alert of alerts)
      if (alert.status === 'resolved') this.known?.forget(alert.dedupKey);
    const request: IngestRequest = {
      alerts,
      now,
      context: await this.notifiers.context(),
    };
    const results = this.db.isPostgres
      ? await this.withConflictRetry(() =>
          this.db.tx(
            async (m) => (await this.applyAll(m, [request])).results[0],
          ),
        )
      : await this.joinGroup(request);
    if (
      results.some((r) => r.action === 'triggered' || r.action === 'resolved')
    )
      this.outbox.committed();
    for (const alert of alerts) this.metrics?.alertIngested(alert.ingestSource);
    this.logger.debug(`ingested ${results.length} alert(s)`);
    return results;
  }

  /**
   * SQLite: the requests that arrive while the previous commit runs are applied as one
   * unit (one read of their open incidents, one INSERT per table), where each alone would
   * pay its own savepoint, read and inserts. Should the unit fail, each request is applied
   * again alone, so a request still succeeds or fails whole and on its own.
   */
  private joinGroup(request: IngestRequest): Promise<IngestResult[]> {
    return new Promise((resolve, reject) => {
      const member = { request, resolve, reject };
      if (this.gathering) {
        this.gathering.push(member);
        return;
      }
      const group = [member];
      this.gathering = group;
      const epoch = this.known?.epoch ?? 0;
      let open = new Map<string, Incident>();
      const run = (members: typeof group) =>
        this.db.tx(async (m) => {
          if (this.gathering === members) this.gathering = null;
          const applied = await this.applyAll(
            m,
            members.map((x) => x.request),
          );
          open = applied.open;
          return applied.results;
        });
      run(group).then(
        (results) => {
          // committed: what is open now is known, unless a close began meanwhile
          for (const [key, incident] of open)
            this.known?.remember(key, incident, epoch);
          group.forEach((x, i) => x.resolve(results[i]));
        },
        (error: unknown) => {
          // refused before it ran (the database file gone): later requests must not
          // join a unit that is over, or they would wait for good
          if (this.gathering === group) this.gathering = null;
          if (group.length === 1) return reject(error);
          for (const x of group)
            run([x]).then(
              (results) => x.resolve(results[0]),
              (e: unknown) => x.reject(e),
            );
        },
      );
    });
  }

  /** The requests' alerts in order, in one transaction; their results by request. */
  private async applyAll(
    m: EntityManager,
    requests: IngestRequest[],
  ): Promise<{ results: IngestResult[][]; open: Map<string, Incident> }> {
    const w = new TxWriter(this.db, m);
    const open = await this.repo.prefetchOpen(
      w,
      requests.flatMap((r) => r.alerts.map((a) => a.dedupKey)),
    );
    const routing = this.router?.batch(w, requests[0].now);
    const out: IngestResult[][] = [];
    for (const { alerts, now, context } of requests) {
      const results: IngestResult[] = [];
      for (const alert of alerts)
        results.push(await this.apply(w, open, alert, now, context, routing));
      out.push(results);
    }
    await w.flush();
    return { results: out, open };
  }

  /**
   * SQLite: a request whose every alert repeats an open incident this process knows of
   * (firing, no source transition time) is answered without waiting for the database.
   * Only counters and what the alert says now change, and they are written with the next
   * commit (see writeSeen), before anything queued after this request reads them.
   */
  private repeatsOfKnown(
    alerts: NormalizedAlert[],
    now: string,
  ): IngestResult[] | null {
    if (!this.known) return null;
    const hits: KnownIncident[] = [];
    for (const alert of alerts) {
      const hit =
        alert.status === 'firing' && !alert.transitionAt && !alert.recordOnly
          ? this.known.get(alert.dedupKey)
          : undefined;
      if (!hit) return null;
      hits.push(hit);
    }
    return alerts.map((alert, i) => {
      const known = hits[i];
      Object.assign(known, {
        severity: alert.severity,
        currentValue: alert.currentValue ?? known.currentValue,
        threshold: alert.threshold ?? known.threshold,
        description: alert.description ?? known.description,
      });
      const behind = this.seenBehind.get(known.id);
      const { id: _id, ...seen } = known;
      this.seenBehind.set(known.id, {
        count: (behind?.count ?? 0) + 1,
        seen: { ...seen, lastSeenAt: now },
      });
      this.queueSeenWrite();
      return {
        dedupKey: alert.dedupKey,
        incidentId: known.id,
        action: 'deduplicated' as const,
      };
    });
  }

  /**
   * One queued transaction writes every repeat answered before it starts. Queued as soon
   * as there is one, so the database queue's order holds: whatever is queued after a
   * repeat (a resolve, a read, the reconciler) sees it written.
   */
  private queueSeenWrite(): void {
    if (this.seenFlush) return;
    let batch: [string, { count: number; seen: Seen }][] | undefined;
    const flush = this.db.tx(async (m) => {
      this.seenFlush = null;
      batch = [...this.seenBehind];
      this.seenBehind.clear();
      for (const [id, { count, seen }] of batch)
        await this.repo.seenRepeatedly(m, id, count, seen);
    });
    this.seenFlush = flush;
    this.seenWritten = flush.catch((error: unknown) => {
      // Rolled back, or refused before it ran (the database file gone): nothing of it
      // is written. Keep them all (newer repeats win) and try again; only counters are at
      // stake, but a write left pending for good would stop every later one.
      if (this.seenFlush === flush) this.seenFlush = null;
      for (const [id, entry] of batch ?? []) {
        const newer = this.seenBehind.get(id);
        this.seenBehind.set(id, {
          count: entry.count + (newer?.count ?? 0),
          seen: newer?.seen ?? entry.seen,
        });
      }
      this.logger.warn(
        `writing ${batch?.length ?? this.seenBehind.size} repeated alert(s) failed, retrying: ${(error as Error).message}`,
      );
      setTimeout(() => this.queueSeenWrite(), SEEN_RETRY_MS).unref();
    });
  }

  async acknowledge(dedupKey: string): Promise<Incident> {
    const incident = await this.db.tx(async (m) => {
      const open = await this.repo.findOpen(m, dedupKey);
      if (!open) throw await this.closedOrUnknown(m, dedupKey);
      if (open.status === 'acknowledged') return open;
      const now = this.clock.now().toISOString();
      open.status = 'acknowledged';
      open.acknowledgedAt = now;
      await m.update(
        Incident,
        { id: open.id },
        { status: 'acknowledged', acknowledgedAt: now },
      );
      const w = new TxWriter(this.db, m);
      this.timeline(w, open.id, now, 'acknowledged', { by: 'api' });
      this.notify(w, open, 'acknowledge', now);
      await w.flush();
      return open;
    });
    this.outbox.committed();
    return incident;
  }

  async resolve(
    dedupKey: string,
    reason: ResolveReason = 'manual',
  ): Promise<Incident> {
    this.known?.forget(dedupKey);
    const incident = await this.db.tx(async (m) => {
      const open = await this.repo.findOpen(m, dedupKey);
      if (!open) throw await this.closedOrUnknown(m, dedupKey);
      const w = new TxWriter(this.db, m);
      await this.close(w, open, this.clock.now().toISOString(), reason);
      await w.flush();
      return open;
    });
    this.outbox.committed();
    return incident;
  }

  /**
   * Resolves one incident if it is still open and still matches `stillStale` (checked
   * inside the transaction, so concurrent reconcilers cannot resolve it twice).
   */
  async resolveIf(
    incidentId: string,
    reason: ResolveReason,
    stillStale: (incident: Incident) => boolean,
    detail?: Record<string, unknown>,
  ): Promise<boolean> {
    this.known?.forgetId(incidentId);
    const done = await this.db.tx(async (m) => {
      if (!(await this.repo.lockIfOpen(m, incidentId))) return false;
      const incident = await m.findOneByOrFail(Incident, { id: incidentId });
      if (!stillStale(incident)) return false;
      const w = new TxWriter(this.db, m);
      const closed = await this.close(
        w,
        incident,
        this.clock.now().toISOString(),
        reason,
        detail,
      );
      await w.flush();
      return closed;
    });
    if (done) this.outbox.committed();
    return done;
  }

  /**
   * `openByKey` holds the batch's open incidents, read once at its start (locked on
   * PostgreSQL) and kept current as the batch opens and closes them.
   */
  private async apply(
    w: TxWriter,
    openByKey: Map<string, Incident>,
    alert: NormalizedAlert,
    now: string,
    context: Incident['notifierContext'],
    routing?: RouterBatch,
  ): Promise<IngestResult> {
    const open = openByKey.get(alert.dedupKey) ?? null;
    // Out-of-order delivery (SNS retries, EventBridge) must not reopen or re-resolve.
    if (
      alert.transitionAt &&
      !(await this.repo.recordTransition(w, alert.dedupKey, alert.transitionAt))
    ) {
      return {
        dedupKey: alert.dedupKey,
        incidentId: open?.id ?? null,
        action: 'ignored',
      };
    }
    if (alert.recordOnly) {
      if (open) {
        this.timeline(w, open.id, now, 'recorded', {
          source: alert.ingestSource,
          description: alert.description,
        });
      }
      return {
        dedupKey: alert.dedupKey,
        incidentId: open?.id ?? null,
        action: 'ignored',
      };
    }
    if (alert.status === 'resolved') {
      if (!open)
        return {
          dedupKey: alert.dedupKey,
          incidentId: null,
          action: 'ignored',
        };
      if (alert.transitionAt) open.lastTransitionAt = alert.transitionAt;
      await this.close(w, open, now, 'alert', { source: alert.ingestSource });
      openByKey.delete(alert.dedupKey);
      return {
        dedupKey: alert.dedupKey,
        incidentId: open.id,
        action: 'resolved',
      };
    }
    if (open) {
      const seen = {
        occurrences: open.occurrences + 1,
        lastSeenAt: now,
        severity: alert.severity,
        currentValue: alert.currentValue ?? open.currentValue,
        threshold: alert.threshold ?? open.threshold,
        description: alert.description ?? open.description,
        lastTransitionAt: alert.transitionAt ?? open.lastTransitionAt,
      };
      await this.repo.seenAgain(w, open.id, seen);
      Object.assign(open, {
        occurrences: open.occurrences + 1,
        lastSeenAt: now,
        severity: alert.severity,
        currentValue: alert.currentValue ?? open.currentValue,
        threshold: alert.threshold ?? open.threshold,
        description: alert.description ?? open.description,
        lastTransitionAt: alert.transitionAt ?? open.lastTransitionAt,
      });
      return {
        dedupKey: alert.dedupKey,
        incidentId: open.id,
        action: 'deduplicated',
      };
    }
    const incident: Incident = {
      id: uuidv7(),
      dedupKey: alert.dedupKey,
      openKey: alert.dedupKey,
      status: 'triggered',
      severity: alert.severity,
      alarmName: alert.alarmName,
      metricName: alert.metricName,
      threshold: alert.threshold,
      currentValue: alert.currentValue,
      environment: alert.environment,
      description: alert.description,
      recommendations: alert.recommendations,
      source: alert.source,
      component: alert.component,
      group: alert.group,
      class: alert.class,
      links: alert.links,
      customDetails: alert.customDetails,
      alertTimestamp: alert.timestamp,
      occurrences: 1,
      notifierContext: context,
      resolveTimeoutMs: alert.resolveTimeoutMs,
      ingestSource: alert.ingestSource,
      alarmArn: alert.alarmArn,
      lastTransitionAt: alert.transitionAt,
      createdAt: now,
      lastSeenAt: now,
      acknowledgedAt: null,
      resolvedAt: null,
      resolveReason: null,
    };
    // Routing: decided once, as it opens, and kept with it (see incident-router.port.ts).
    if (routing) {
      const decision = await routing.decide(incident, openByKey);
      incident.route = decision.route;
      incident.suppressedBy = decision.hold;
    }
    w.insert(Incident, incident);
    openByKey.set(alert.dedupKey, incident);
    this.timeline(w, incident.id, now, 'triggered', {
      source: alert.ingestSource,
    });
    if (incident.suppressedBy) {
      this.timeline(w, incident.id, now, 'suppressed', {
        ...incident.suppressedBy,
      });
      this.metrics?.alertSuppressed(incident.suppressedBy.reason);
    }
    this.notify(w, incident, 'trigger', now);
    return {
      dedupKey: alert.dedupKey,
      incidentId: incident.id,
      action: 'triggered',
    };
  }

  private async close(
    w: TxWriter,
    incident: Incident,
    now: string,
    reason: ResolveReason,
    detail: Record<string, unknown> = {},
  ): Promise<boolean> {
    await w.flush();
    const result = await w.manager.update(
      Incident,
      { id: incident.id, openKey: incident.dedupKey },
      {
        status: 'resolved',
        openKey: null,
        resolvedAt: now,
        resolveReason: reason,
        lastTransitionAt: incident.lastTransitionAt,
      },
    );
    if (!result.affected) return false;
    Object.assign(incident, {
      status: 'resolved',
      openKey: null,
      resolvedAt: now,
      resolveReason: reason,
    });
    this.timeline(w, incident.id, now, 'resolved', { reason, ...detail });
    this.notify(w, incident, 'resolve', now);
    return true;
  }

  private async closedOrUnknown(
    m: EntityManager,
    dedupKey: string,
  ): Promise<AlertingError> {
    const latest = await this.repo.findLatest(m, dedupKey);
    return latest
      ? new AlertingError(
          'conflict',
          `incident ${dedupKey} is already resolved`,
        )
      : new AlertingError('not-found', `no incident with dedupKey ${dedupKey}`);
  }

  /**
   * The outbox rows of a transition, to the incident's route. A held incident has not
   * paged, so none of its transitions is sent; one that paged is never held again.
   */
  private notify(
    w: TxWriter,
    incident: Incident,
    action: NotificationAction,
    now: string,
  ): void {
    if (incident.suppressedBy) return;
    this.outbox.enqueue(
      w,
      this.payload(incident),
      action,
      now,
      incident.route?.targets,
    );
  }

  /**
   * Ends an incident's hold if `recheck` (run in the transaction, the row locked) finds
   * none left: its trigger goes out now, to the route decided when it opened (and its
   * acknowledge, if someone acknowledged it meanwhile). A hold that changed reason is
   * stored. True when this call sent the trigger: concurrent callers send it once.
   */
  async release(
    incidentId: string,
    recheck: (incident: Incident, w: TxWriter) => Promise<IncidentHold | null>,
  ): Promise<boolean> {
    const done = await this.db.tx(async (m) => {
      const incident = await this.repo.lockIfHeld(m, incidentId);
      if (!incident) return false;
      const w = new TxWriter(this.db, m);
      const hold = await recheck(incident, w);
      if (hold) {
        if (JSON.stringify(hold) !== JSON.stringify(incident.suppressedBy))
          await this.repo.setHold(w, incidentId, hold);
        return false;
      }
      const now = this.clock.now().toISOString();
      await this.repo.setHold(w, incidentId, null);
      this.timeline(w, incidentId, now, 'released', {
        ...incident.suppressedBy,
      });
      incident.suppressedBy = null;
      this.notify(w, incident, 'trigger', now);
      if (incident.status === 'acknowledged')
        this.notify(w, incident, 'acknowledge', now);
      await w.flush();
      return true;
    });
    if (done) {
      this.metrics?.holdReleased();
      this.outbox.committed();
    }
    return done;
  }

  private payload(incident: Incident) {
    return {
      incident: toSnapshot(incident),
      context: incident.notifierContext,
    };
  }

  private timeline(
    w: TxWriter,
    incidentId: string,
    at: string,
    type: string,
    detail: Record<string, unknown>,
  ): void {
    w.insert(IncidentEvent, {
      id: uuidv7(),
      incidentId,
      at,
      type,
      detail,
    });
  }

  /**
   * PostgreSQL: two instances creating the same key race on the open-key index (the loser
   * retries as a dedup), and two batches waiting on each other's keys deadlock (one retries).
   */
  private async withConflictRetry<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!isRetryableConflict(error) || attempt >= 5) throw error;
      }
    }
  }

  private normalize({ alert, meta }: IngestItem, now: string): NormalizedAlert {
    const metricName = alert.metricName ?? null;
    return {
      dedupKey:
        alert.dedupKey ??
        (metricName ? `${alert.alarmName}-${metricName}` : alert.alarmName),
      severity: alert.severity.toUpperCase() as Severity,
      alarmName: alert.alarmName,
      metricName,
      threshold: alert.threshold ?? null,
      currentValue: alert.currentValue ?? null,
      timestamp: alert.timestamp
        ? new Date(alert.timestamp).toISOString()
        : now,
      environment: alert.environment ?? this.config.appEnv,
      description: alert.description ?? null,
      recommendations: alert.recommendations ?? [],
      status: alert.status ?? 'firing',
      source: alert.source ?? null,
      component: alert.component ?? null,
      group: alert.group ?? null,
      class: alert.class ?? null,
      links: alert.links ?? [],
      customDetails: alert.customDetails ?? {},
      resolveTimeoutMs:
        alert.resolveTimeout === undefined
          ? null
          : parseDuration(alert.resolveTimeout),
      transitionAt: meta.transitionAt ? meta.transitionAt.toISOString() : null,
      recordOnly: meta.recordOnly ?? false,
      ingestSource: meta.source,
      alarmArn: meta.alarmArn ?? null,
    };
  }
}
