import { uuidv7 } from '../database/uuid7.js';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
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

export type ResolveReason =
  'alert' | 'manual' | 'stale' | 'alarm-ok' | 'alarm-deleted' | 'pagerduty';

/** Incidents: dedup by key, lifecycle, timeline, and the outbox rows of every transition. */
@Injectable()
export class IncidentService {
  private readonly logger = new Logger(IncidentService.name);

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
  ) {}

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
    const context = await this.notifiers.context();
    const results = await this.withConflictRetry(() =>
      this.db.tx(async (m) => {
        const w = new TxWriter(this.db, m);
        const open = await this.repo.prefetchOpen(
          w,
          alerts.map((a) => a.dedupKey),
        );
        const out: IngestResult[] = [];
        const routing = this.router?.batch(w, now);
        for (const alert of alerts)
          out.push(await this.apply(w, open, alert, now, context, routing));
        await w.flush();
        return out;
      }),
    );
    if (
      results.some((r) => r.action === 'triggered' || r.action === 'resolved')
    )
      this.outbox.committed();
    for (const alert of alerts) this.metrics?.alertIngested(alert.ingestSource);
    this.logger.debug(`ingested ${results.length} alert(s)`);
    return results;
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
