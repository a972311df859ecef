import type { TxWriter } from '../database/database.service.js';
import type { Incident } from './incident.entity.js';

/**
 * Injection token of the optional {@link IncidentRouter} (the routing module provides it).
 * Without one, every incident goes to every enabled notifier and nothing is held.
 */
export const INCIDENT_ROUTER = Symbol('INCIDENT_ROUTER');

/** One notifier event to write per transition; `context` replaces the adapter's own. */
export interface RouteTarget {
  notifier: string;
  /** a named PagerDuty key (`pagerduty:<name>`): shown, never the key itself */
  keyName?: string;
  context?: Record<string, unknown>;
}

/** Decided when the incident opens and stored on it: every later transition reuses it. */
export interface IncidentRoute {
  /** the routes that matched, in file order (`default` when none did) */
  names: string[];
  targets: RouteTarget[];
  /** ISO 8601: not paged before this (the route's `pageAfter`) */
  pageAfterUntil?: string;
}

/** Why an incident has not paged yet. */
export type IncidentHold =
  | { reason: 'silence'; silenceId: string; comment?: string }
  | { reason: 'inhibit'; incidentId: string; dedupKey: string }
  | { reason: 'pageAfter'; until: string };

export interface RoutingDecision {
  route: IncidentRoute | null;
  hold: IncidentHold | null;
}

/** Per ingest transaction: lets the router read what it needs once per batch, lazily. */
export interface RouterBatch {
  /**
   * `openInBatch`: the batch's open incidents so far (those opened earlier in the same
   * batch are not in the database yet).
   */
  decide(
    incident: Incident,
    openInBatch: ReadonlyMap<string, Incident>,
  ): Promise<RoutingDecision>;
}

export interface IncidentRouter {
  batch(w: TxWriter, now: string): RouterBatch;
}

/**
 * Injection token of the optional release pass, run by the reconciler each tick under
 * its lock: sends the trigger of every open held incident whose hold has ended.
 */
export const HOLD_RELEASER = Symbol('HOLD_RELEASER');

export interface HoldReleaser {
  /** how many triggers it sent */
  releaseDue(): Promise<number>;
}
