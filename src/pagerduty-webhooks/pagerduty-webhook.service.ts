import { Inject, Injectable, Logger } from '@nestjs/common';
import { IsNull, Not, type EntityManager } from 'typeorm';
import { pagerDutyDedupKey } from '../pagerduty/pagerduty-event.builder.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { IncidentEvent } from '../alerting/incident-event.entity.js';
import { Incident } from '../alerting/incident.entity.js';
import { OutboxService } from '../notifier/outbox.service.js';
import { toSnapshot } from '../alerting/incident.snapshot.js';
import { KnownOpenIncidents } from '../alerting/known-open.js';
import {
  DatabaseService,
  isUniqueViolation,
  TxWriter,
} from '../database/database.service.js';
import { uuidv7 } from '../database/uuid7.js';
import { PagerDutyWebhookEventRecord } from './pagerduty-webhook-event.entity.js';
import {
  APPLIED_EVENT_TYPES,
  type PagerDutyWebhookEvent,
} from './pagerduty-webhook.payload.js';

export type PagerDutyWebhookOutcome = 'applied' | 'duplicate' | 'ignored';

/** The answer to one verified webhook delivery. */
export interface PagerDutyWebhookReceipt {
  eventId: string;
  eventType: string;
  outcome: PagerDutyWebhookOutcome;
  /** why a verified event changed nothing */
  reason?: string;
  /** ours, when the event named one */
  incidentId?: string;
  status?: Incident['status'];
}

/** The notifier PagerDuty's own changes are never echoed to. */
const PAGERDUTY = 'pagerduty';
// PagerDuty retries a failed webhook for minutes; a week of ids is plenty and stays small.
const EVENT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;
const SHA256_HEX = /^[0-9a-f]{64}$/;

type IncidentChanges = Partial<
  Pick<
    Incident,
    | 'status'
    | 'openKey'
    | 'acknowledgedAt'
    | 'resolvedAt'
    | 'resolveReason'
    | 'pagerdutyIncidentId'
    | 'pagerdutyIncidentNumber'
    | 'pagerdutyHtmlUrl'
    | 'pagerdutyEventAt'
  >
>;

class Skip {
  constructor(
    readonly outcome: 'duplicate' | 'ignored',
    readonly reason: string,
    readonly incident?: Incident,
  ) {}
}

/**
 * Applies what responders do in PagerDuty to our incidents. Each event is applied at most
 * once (its id is stored in the same transaction, under a unique key), never over a newer
 * transition, and never sent back to PagerDuty.
 */
@Injectable()
export class PagerDutyWebhookService {
  private readonly logger = new Logger('PagerDutyWebhooks');
  private nextPruneAt = 0;

  constructor(
    private readonly db: DatabaseService,
    private readonly outbox: OutboxService,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly known: KnownOpenIncidents,
  ) {}

  async receive(
    event: PagerDutyWebhookEvent,
  ): Promise<PagerDutyWebhookReceipt> {
    const base = { eventId: event.id, eventType: event.eventType };
    if (
      !event.incident ||
      !(APPLIED_EVENT_TYPES as readonly string[]).includes(event.eventType)
    ) {
      this.logger.debug(`PagerDuty ${event.eventType} ${event.id} ignored`);
      return { ...base, outcome: 'ignored', reason: 'event type not applied' };
    }
    const now = this.clock.now().toISOString();
    // the incident is found by PagerDuty's key in the transaction: forget every open one we know
    if (event.eventType === 'incident.resolved') this.known.forgetAll();
    let result: Incident | Skip;
    try {
      result = await this.db.tx((m) => this.apply(m, event, now));
    } catch (error) {
      // The same event reached another instance, which stored its id first.
      if (!isUniqueViolation(error)) throw error;
      result = new Skip('duplicate', 'event already applied');
    }
    if (result instanceof Skip) {
      this.logger.debug(
        `PagerDuty ${event.eventType} ${event.id}: ${result.reason}`,
      );
      return {
        ...base,
        outcome: result.outcome,
        reason: result.reason,
        ...(result.incident
          ? { incidentId: result.incident.id, status: result.incident.status }
          : {}),
      };
    }
    this.outbox.committed();
    this.logger.log(
      `PagerDuty ${event.eventType} ${event.id} applied to incident ${result.id}` +
        (event.agent ? ` (by ${event.agent})` : ''),
    );
    await this.pruneIfDue(now);
    return {
      ...base,
      outcome: 'applied',
      incidentId: result.id,
      status: result.status,
    };
  }

  private async apply(
    m: EntityManager,
    event: PagerDutyWebhookEvent,
    now: string,
  ): Promise<Incident | Skip> {
    const data = event.incident!;
    // Locked first: a second instance with the same event waits here, then finds its id.
    const incident = await this.findOpen(m, data.incidentKey);
    if (!incident)
      return new Skip('ignored', 'no open incident for this incident_key');
    if (await m.existsBy(PagerDutyWebhookEventRecord, { eventId: event.id }))
      return new Skip('duplicate', 'event already applied', incident);
    if (
      incident.pagerdutyIncidentId &&
      incident.pagerdutyIncidentId !== data.id &&
      event.eventType !== 'incident.triggered'
    )
      return new Skip(
        'ignored',
        `about PagerDuty incident ${data.id}, not ${incident.pagerdutyIncidentId}`,
        incident,
      );
    if (event.occurredAt < lastTransitionOf(incident))
      return new Skip(
        'ignored',
        "older than the incident's last transition",
        incident,
      );

    const w = new TxWriter(this.db, m);
    const detail = {
      by: 'pagerduty',
      agent: event.agent,
      occurredAt: event.occurredAt,
      pagerdutyIncidentId: data.id,
      pagerdutyEventId: event.id,
    };
    const changes: IncidentChanges = { pagerdutyEventAt: event.occurredAt };
    switch (event.eventType) {
      case 'incident.triggered':
        if (incident.pagerdutyIncidentId === data.id)
          return new Skip('ignored', 'already linked', incident);
        Object.assign(changes, {
          pagerdutyIncidentId: data.id,
          pagerdutyIncidentNumber: data.number,
          pagerdutyHtmlUrl: data.htmlUrl,
        });
        this.timeline(w, incident, now, 'linked', {
          ...detail,
          number: data.number,
          htmlUrl: data.htmlUrl,
        });
        break;
      case 'incident.acknowledged':
        if (incident.status === 'acknowledged')
          return new Skip('ignored', 'already acknowledged', incident);
        Object.assign(changes, {
          status: 'acknowledged',
          acknowledgedAt: event.occurredAt,
        });
        this.timeline(w, incident, now, 'acknowledged', detail);
        break;
      case 'incident.unacknowledged':
        if (incident.status !== 'acknowledged')
          return new Skip('ignored', 'not acknowledged', incident);
        Object.assign(changes, { status: 'triggered', acknowledgedAt: null });
        this.timeline(w, incident, now, 'unacknowledged', detail);
        break;
      case 'incident.resolved':
        // open_key NULL frees the key: the next firing alert opens a new incident and pages.
        Object.assign(changes, {
          status: 'resolved',
          openKey: null,
          resolvedAt: event.occurredAt,
          resolveReason: 'pagerduty',
        });
        this.timeline(w, incident, now, 'resolved', {
          reason: 'pagerduty',
          ...detail,
        });
        break;
    }
    Object.assign(incident, changes);
    await m.update(Incident, { id: incident.id }, changes);
    const action =
      event.eventType === 'incident.acknowledged'
        ? 'acknowledge'
        : event.eventType === 'incident.resolved'
          ? 'resolve'
          : null;
    // Other notifiers hear of it; PagerDuty, where it happened, does not.
    // A held incident has not paged anywhere: nothing to tell the others either.
    if (action && !incident.suppressedBy)
      this.outbox.enqueue(
        w,
        { incident: toSnapshot(incident), context: incident.notifierContext },
        action,
        now,
        incident.route?.targets,
        PAGERDUTY,
      );
    w.insert(PagerDutyWebhookEventRecord, {
      eventId: event.id,
      eventType: event.eventType,
      incidentId: incident.id,
      occurredAt: event.occurredAt,
      receivedAt: now,
    });
    await w.flush();
    return incident;
  }

  /** By the key as sent: our dedup key, or the SHA-256 that stood in for a long one. */
  private async findOpen(
    m: EntityManager,
    incidentKey: string,
  ): Promise<Incident | null> {
    const lock = this.db.isPostgres
      ? { mode: 'pessimistic_write' as const }
      : undefined;
    const byKey = await m.findOne(Incident, {
      where: { openKey: incidentKey },
      lock,
    });
    if (byKey || !SHA256_HEX.test(incidentKey)) return byKey;
    // Few open incidents have keys this long; a partial index keeps this read to them.
    const long: { id: string; dedup_key: string }[] = await m
      .createQueryBuilder(Incident, 'i')
      .select(['i.id AS id', 'i.dedup_key AS dedup_key'])
      .where('i.open_key IS NOT NULL AND length(i.dedup_key) > 255')
      .getRawMany();
    const match = long.find(
      (r) => pagerDutyDedupKey(r.dedup_key) === incidentKey,
    );
    if (!match) return null;
    return m.findOne(Incident, {
      where: { id: match.id, openKey: Not(IsNull()) },
      lock,
    });
  }

  private timeline(
    w: TxWriter,
    incident: Incident,
    at: string,
    type: string,
    detail: Record<string, unknown>,
  ): void {
    w.insert(IncidentEvent, {
      id: uuidv7(),
      incidentId: incident.id,
      at,
      type,
      detail,
    });
  }

  private async pruneIfDue(now: string): Promise<void> {
    const nowMs = Date.parse(now);
    if (nowMs < this.nextPruneAt) return;
    this.nextPruneAt = nowMs + PRUNE_EVERY_MS;
    const cutoff = new Date(nowMs - EVENT_RETENTION_MS).toISOString();
    try {
      await this.db.tx((m) =>
        m
          .createQueryBuilder()
          .delete()
          .from(PagerDutyWebhookEventRecord)
          .where('received_at < :cutoff', { cutoff })
          .execute(),
      );
    } catch (error) {
      this.logger.warn(
        `could not prune PagerDuty webhook event ids: ${(error as Error).message}`,
      );
    }
  }
}

/** Our last change of the incident, or the last PagerDuty change applied to it. */
function lastTransitionOf(incident: Incident): string {
  let last = incident.createdAt;
  for (const at of [incident.acknowledgedAt, incident.pagerdutyEventAt])
    if (at && at > last) last = at;
  return last;
}
