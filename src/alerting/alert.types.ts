import type { AlertLink, Severity } from '../notifier/notifier.port.js';

export {
  SEVERITIES,
  type AlertLink,
  type Severity,
} from '../notifier/notifier.port.js';

/**
 * One alert as every ingestion edge (HTTP, templates, SNS/CloudWatch, EventBridge,
 * Alertmanager) hands it to the core. Field rules are CONTRACT §2.
 */
export interface AlertInput {
  severity: Severity;
  alarmName: string;
  metricName?: string;
  threshold?: number;
  currentValue?: number;
  /** ISO 8601; default now */
  timestamp?: string;
  environment?: string;
  description?: string;
  recommendations?: string[];
  status?: 'firing' | 'resolved';
  dedupKey?: string;
  source?: string;
  component?: string;
  group?: string;
  class?: string;
  links?: AlertLink[];
  customDetails?: Record<string, unknown>;
  /** duration string (`30s`, `4h`) or milliseconds */
  resolveTimeout?: string | number;
}

/**
 * What an edge that knows the time of the state change (CloudWatch) adds: a transition
 * older than the last one applied for that key is ignored; `record` only notes it on the
 * timeline (INSUFFICIENT_DATA).
 */
export interface AlertTransitionMeta {
  /** when the source says the state changed; older-than-applied transitions are ignored */
  transitionAt?: Date;
  /** record on the incident's timeline only, never a transition (INSUFFICIENT_DATA) */
  recordOnly?: boolean;
  /** the ingestion edge, for metrics and the timeline: http, template, sns, eventbridge, alertmanager */
  source: string;
  /** CloudWatch alarm ARN, when known: the reconciler asks DescribeAlarms about it */
  alarmArn?: string;
  /** where the alert sits in the request (`[3]`, `alerts[3]`), for the 400's messages */
  at?: string;
  /** alert field → the sender's own name for it (`environment` → `labels.env`), for the 400's messages */
  fields?: Record<string, string>;
}

export interface IngestItem {
  alert: AlertInput;
  meta: AlertTransitionMeta;
}

export type IngestAction =
  'triggered' | 'deduplicated' | 'resolved' | 'ignored';

export interface IngestResult {
  dedupKey: string;
  incidentId: string | null;
  action: IngestAction;
}
