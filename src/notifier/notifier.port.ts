import type { AlertLink, Severity } from '../alerting/alert.types.js';

export type NotificationAction = 'trigger' | 'acknowledge' | 'resolve';

/** The incident as it stood when the transition was committed; stored in the outbox row. */
export interface IncidentSnapshot {
  id: string;
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  severity: Severity;
  alarmName: string;
  metricName: string | null;
  threshold: number | null;
  currentValue: number | null;
  environment: string;
  description: string | null;
  recommendations: string[];
  source: string | null;
  component: string | null;
  group: string | null;
  class: string | null;
  links: AlertLink[];
  customDetails: Record<string, unknown>;
  /** ISO 8601 of the alert that triggered the incident */
  timestamp: string;
  occurrences: number;
  /** why it resolved: alert, manual, stale, alarm-ok, alarm-deleted */
  resolveReason?: string | null;
}

/** One transition to deliver: what a notifier adapter receives. */
export interface NotificationEvent {
  /** outbox row id, stable across retries */
  deliveryId: string;
  action: NotificationAction;
  incident: IncidentSnapshot;
  /** PagerDuty routing key in force when the incident triggered (pagerduty only) */
  routingKey?: string | null;
  /** when the transition was committed */
  createdAt: Date;
}

export interface NotifierResult {
  /** what the far side answered, kept on the delivery row (never secrets) */
  response?: unknown;
}

/**
 * A notifier adapter. Throw {@link NotifierError} to tell the dispatcher whether to retry;
 * any other error is treated as transient.
 */
export interface Notifier {
  /** `pagerduty`, `sns`, `webhook`, `log`, or a host app's own name */
  readonly name: string;
  send(event: NotificationEvent): Promise<NotifierResult | void>;
}

/** Injection token: the enabled notifiers, as `Notifier[]` (one per `NOTIFIERS` entry, or a host app's own). */
export const NOTIFIER = Symbol('NOTIFIER');

export class NotifierError extends Error {
  constructor(
    message: string,
    /** true: network error, timeout, 408, 429, 5xx. false: final (400 and other 4xx) */
    readonly retryable: boolean,
    readonly details?: {
      status?: number;
      body?: unknown;
      retryAfterMs?: number;
      /** held back by the adapter's own rate limit: nothing was sent, so it is not an attempt */
      throttled?: boolean;
    },
  ) {
    super(message);
    this.name = 'NotifierError';
  }
}
