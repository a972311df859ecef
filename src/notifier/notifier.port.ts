export const SEVERITIES = ['CRITICAL', 'ERROR', 'WARNING', 'INFO'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface AlertLink {
  href: string;
  text?: string;
}

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
  /**
   * What this adapter's {@link Notifier.context} returned when the incident triggered
   * (PagerDuty: the routing key then in force); null when it keeps nothing.
   */
  context?: Record<string, unknown> | null;
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
  /**
   * Optional: what to keep with an incident when it triggers, handed back as
   * `event.context` for each of its transitions (stored opaque by the core). Called once
   * per ingest batch, so keep it cheap.
   */
  context?(): Promise<Record<string, unknown> | null>;
}

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
