import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import {
  DatabaseService,
  type TxWriter,
} from '../database/database.service.js';
import type {
  IncidentHold,
  IncidentRouter,
  RouterBatch,
  RoutingDecision,
} from '../alerting/incident-router.port.js';
import { Incident } from '../alerting/incident.entity.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { SilencesService } from './silences.service.js';
import type { RoutableAlert } from './matcher.js';
import { equalOn, RoutingTable, type RouteMatch } from './routing-table.js';
import { RoutingService } from './routing.service.js';

export type Query = <T = Record<string, unknown>>(
  sql: string,
  params: unknown[],
) => Promise<T[]>;

/** Columns that are never NULL on an incident: `equal` on them narrows the inhibitor read in SQL. */
const EQUAL_COLUMNS: Record<string, string> = {
  severity: 'severity',
  alarmName: 'alarm_name',
  dedupKey: 'dedup_key',
  environment: 'environment',
  via: 'ingest_source',
};

/**
 * Decides each opening incident's route and hold (the core's {@link IncidentRouter}). Holds, in order: an active silence,
 * an open incident matching an inhibit rule's source with the same `equal` values, the
 * route's `pageAfter`.
 */
@Injectable()
export class HoldService implements IncidentRouter {
  constructor(
    private readonly routing: RoutingService,
    private readonly silences: SilencesService,
    private readonly db: DatabaseService,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The incident's matchable fields; component and group with their defaults, as paged. */
  routable(i: Incident): RoutableAlert {
    return {
      severity: i.severity,
      alarmName: i.alarmName,
      metricName: i.metricName,
      dedupKey: i.dedupKey,
      environment: i.environment,
      source: i.source,
      component: i.component ?? this.config.alert.component,
      group: i.group ?? this.config.alert.group,
      class: i.class,
      via: i.ingestSource,
      customDetails: i.customDetails ?? {},
    };
  }

  batch(w: TxWriter, now: string): RouterBatch {
    let fresh: Promise<void> | null = null;
    return {
      decide: async (incident, openInBatch) => {
        // first opening incident of the batch: one indexed read tells whether silences changed
        await (fresh ??= this.silences.refreshIn(w));
        const table = this.routing.table;
        const match = table.match(this.routable(incident));
        const route = RoutingTable.toIncidentRoute(match, now);
        const hold = await this.holdOf(
          incident,
          route?.pageAfterUntil ?? null,
          now,
          (sql, params) => w.query(sql, params),
          openInBatch,
        );
        return { route, hold } satisfies RoutingDecision;
      },
    };
  }

  /** POST /v1/routing/test: what would happen to this alert now, nothing written. */
  async explain(
    alert: RoutableAlert,
  ): Promise<{ match: RouteMatch | null; hold: IncidentHold | null }> {
    await this.silences.reload();
    const now = this.clock.now().toISOString();
    // an incident-shaped view of the alert, id-less: it inhibits nothing, nothing inhibits it by id
    const incident = {
      id: '',
      openKey: alert.dedupKey,
      dedupKey: alert.dedupKey,
      severity: alert.severity,
      alarmName: alert.alarmName,
      metricName: alert.metricName,
      environment: alert.environment,
      source: alert.source,
      component: alert.component,
      group: alert.group,
      class: alert.class,
      ingestSource: alert.via,
      customDetails: alert.customDetails,
    } as Incident;
    const match = this.routing.table.match(alert);
    const route = RoutingTable.toIncidentRoute(match, now);
    const hold = await this.db.read((m) =>
      this.holdOf(incident, route?.pageAfterUntil ?? null, now, this.reader(m)),
    );
    return { match, hold };
  }

  private reader(m: EntityManager): Query {
    return (sql, params) => this.db.query(m, sql, params);
  }

  /** The hold in force now, if any (`openInBatch`: incidents of the batch not yet written). */
  async holdOf(
    incident: Incident,
    pageAfterUntil: string | null,
    now: string,
    query: Query,
    openInBatch?: ReadonlyMap<string, Incident>,
  ): Promise<IncidentHold | null> {
    const alert = this.routable(incident);
    const silence = this.silences.matching(alert, now);
    if (silence)
      return {
        reason: 'silence',
        silenceId: silence.id,
        comment: silence.comment,
      };
    const inhibitor = await this.inhibitor(incident, alert, query, openInBatch);
    if (inhibitor)
      return {
        reason: 'inhibit',
        incidentId: inhibitor.id,
        dedupKey: inhibitor.dedupKey,
      };
    if (pageAfterUntil && now < pageAfterUntil)
      return { reason: 'pageAfter', until: pageAfterUntil };
    return null;
  }

  /** An open incident that inhibits this one, if any: read only when a rule's target matches. */
  private async inhibitor(
    self: Incident,
    alert: RoutableAlert,
    query: Query,
    openInBatch?: ReadonlyMap<string, Incident>,
  ): Promise<Incident | null> {
    for (const rule of this.routing.table.inhibit) {
      if (!rule.target(alert)) continue;
      const fits = (other: Incident) => {
        if (other.id === self.id || other.openKey === null) return false;
        const o = this.routable(other);
        return rule.source(o) && equalOn(o, alert, rule.equal);
      };
      for (const other of openInBatch?.values() ?? [])
        if (fits(other)) return other;
      const params: unknown[] = [self.id];
      const terms = rule.equal
        .filter((f) => EQUAL_COLUMNS[f])
        .map((f) => {
          params.push(alert[f as keyof RoutableAlert]);
          return `AND ${EQUAL_COLUMNS[f]} = $${params.length}`;
        });
      const rows = await query(
        `SELECT * FROM incidents WHERE open_key IS NOT NULL AND id <> $1 ${terms.join(' ')} LIMIT 1000`,
        params,
      );
      for (const row of rows) {
        const other = this.db.fromRow(Incident, row);
        if (fits(other)) return other;
      }
    }
    return null;
  }
}
