import { Injectable } from '@nestjs/common';
import { In, type FindOptionsWhere } from 'typeorm';
import { DatabaseService } from '../database/database.service.js';
import { AlertingError } from '../ops/alerting.errors.js';
import { IncidentEvent } from './incident-event.entity.js';
import { Incident, type IncidentStatus } from './incident.entity.js';
import { Delivery, type DeliveryState } from '../notifier/delivery.entity.js';
import type { Severity } from '../notifier/notifier.port.js';
import { encodeCursor, type CursorPosition } from './query-params.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The incident as the API shows it: no routing key, no internal columns. */
export function incidentView(i: Incident) {
  return {
    id: i.id,
    dedupKey: i.dedupKey,
    status: i.status,
    severity: i.severity,
    alarmName: i.alarmName,
    metricName: i.metricName,
    threshold: i.threshold,
    currentValue: i.currentValue,
    environment: i.environment,
    description: i.description,
    recommendations: i.recommendations,
    source: i.source,
    component: i.component,
    group: i.group,
    class: i.class,
    links: i.links,
    customDetails: i.customDetails,
    timestamp: i.alertTimestamp,
    occurrences: i.occurrences,
    ingestSource: i.ingestSource,
    resolveTimeoutMs: i.resolveTimeoutMs,
    createdAt: i.createdAt,
    lastSeenAt: i.lastSeenAt,
    acknowledgedAt: i.acknowledgedAt,
    resolvedAt: i.resolvedAt,
    resolveReason: i.resolveReason,
    // the route's key names, never the keys
    route: i.route
      ? {
          names: i.route.names,
          notifiers: i.route.targets.map((t) =>
            t.keyName ? `${t.notifier}:${t.keyName}` : t.notifier,
          ),
          pageAfterUntil: i.route.pageAfterUntil ?? null,
        }
      : null,
    suppressedBy: i.suppressedBy ?? null,
    /** the PagerDuty incident it became (from PagerDuty's webhook), with the link on-call opens */
    pagerduty: i.pagerdutyIncidentId
      ? {
          incidentId: i.pagerdutyIncidentId,
          number: i.pagerdutyIncidentNumber ?? null,
          htmlUrl: i.pagerdutyHtmlUrl ?? null,
        }
      : null,
  };
}

export function deliveryView(d: Delivery) {
  return {
    id: String(d.id),
    notifier: d.notifier,
    dedupKey: d.dedupKey,
    incidentId: d.incidentId,
    action: d.action,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.state === 'pending' ? d.nextAttemptAt : null,
    lastError: d.lastError,
    lastResponse: d.lastResponse ?? null,
    createdAt: d.createdAt,
    deliveredAt: d.deliveredAt,
  };
}

export interface IncidentFilters {
  /** true: only incidents held back; false: the others */
  suppressed?: boolean;
  environment?: string;
  severities?: Severity[];
  /** part of the dedup key, any case */
  keyContains?: string;
}

/** `%` and `_` in a searched key are characters, not wildcards. */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** `limit + 1` rows were read: the extra one only says whether a next page exists. */
function toPage<R extends { createdAt: string; id: string | number }, V>(
  rows: R[],
  limit: number,
  view: (row: R) => V,
): Page<V> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(view),
    nextCursor:
      rows.length > limit && last
        ? encodeCursor(last.createdAt, last.id)
        : null,
  };
}

@Injectable()
export class IncidentQueries {
  constructor(private readonly db: DatabaseService) {}

  async list(
    statuses: IncidentStatus[],
    limit: number,
    cursor?: CursorPosition<string>,
    filters: IncidentFilters = {},
  ): Promise<Page<ReturnType<typeof incidentView>>> {
    const { suppressed, environment, severities, keyContains } = filters;
    return this.db.read(async (m) => {
      const q = m
        .createQueryBuilder(Incident, 'i')
        .orderBy('i.created_at', 'DESC')
        .addOrderBy('i.id', 'DESC')
        .limit(limit + 1);
      if (statuses.length > 0)
        q.andWhere('i.status IN (:...statuses)', { statuses });
      if (suppressed !== undefined)
        q.andWhere(
          suppressed
            ? 'i.suppressed_by IS NOT NULL'
            : 'i.suppressed_by IS NULL',
        );
      if (environment !== undefined)
        q.andWhere('i.environment = :environment', { environment });
      if (severities && severities.length > 0)
        q.andWhere('i.severity IN (:...severities)', { severities });
      // Lower-cased on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
      if (keyContains)
        q.andWhere(`LOWER(i.dedup_key) LIKE :pattern ESCAPE '\\'`, {
          pattern: `%${escapeLike(keyContains.toLowerCase())}%`,
        });
      if (cursor)
        q.andWhere(
          '(i.created_at < :createdAt OR (i.created_at = :createdAt AND i.id < :id))',
          cursor,
        );
      return toPage(await q.getMany(), limit, incidentView);
    });
  }

  /** The open incident for the key, else the latest one, with its timeline and deliveries. */
  async byKey(dedupKey: string) {
    return this.db.read(async (m) => {
      const incident =
        (await m.findOne(Incident, { where: { openKey: dedupKey } })) ??
        (await m.findOne(Incident, {
          where: { dedupKey },
          order: { createdAt: 'DESC', id: 'DESC' },
        }));
      if (!incident)
        throw new AlertingError(
          'not-found',
          `no incident with dedupKey ${dedupKey}`,
        );
      const [timeline, deliveries] = await Promise.all([
        m.find(IncidentEvent, {
          where: { incidentId: incident.id },
          order: { at: 'ASC' },
        }),
        m.find(Delivery, {
          where: { incidentId: incident.id },
          order: { id: 'ASC' },
        }),
      ]);
      return {
        ...incidentView(incident),
        timeline: timeline.map((e) => ({
          at: e.at,
          type: e.type,
          detail: e.detail,
        })),
        deliveries: deliveries.map(deliveryView),
      };
    });
  }

  async deliveries(
    states: DeliveryState[],
    limit: number,
    cursor?: CursorPosition<number>,
  ): Promise<Page<ReturnType<typeof deliveryView>>> {
    return this.db.read(async (m) => {
      const where: FindOptionsWhere<Delivery> =
        states.length > 0 ? { state: In(states) } : {};
      const q = m
        .createQueryBuilder(Delivery, 'd')
        .where(where)
        .orderBy('d.id', 'DESC')
        .limit(limit + 1);
      if (cursor) q.andWhere('d.id < :id', { id: cursor.id });
      return toPage(await q.getMany(), limit, deliveryView);
    });
  }
}
