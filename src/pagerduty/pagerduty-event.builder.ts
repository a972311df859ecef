import { createHash } from 'node:crypto';
import {
  NotifierError,
  type AlertLink,
  type IncidentSnapshot,
  type NotificationEvent,
  type Severity,
} from '../notifier/notifier.port.js';

/** A transition as the PagerDuty adapter hands it to the builder: with its routing key. */
export type PagerDutyNotification = Omit<NotificationEvent, 'context'> & {
  routingKey?: string | null;
};

export interface PagerDutyEventOptions {
  awsRegion: string;
  cloudwatchDashboardName: string;
  appDashboardUrl?: string;
  appDashboardName: string;
  client: string;
  clientUrl?: string;
  defaultComponent: string;
  defaultGroup: string;
  defaultClass?: string;
}

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

export interface PagerDutyPayload {
  summary: string;
  source: string;
  severity: PagerDutySeverity;
  timestamp: string;
  component: string;
  group: string;
  class?: string;
  custom_details: Record<string, unknown>;
}

export interface PagerDutyTriggerEvent {
  routing_key: string;
  event_action: 'trigger';
  dedup_key: string;
  payload: PagerDutyPayload;
  links: AlertLink[];
  client: string;
  client_url?: string;
}

export interface PagerDutyLifecycleEvent {
  routing_key: string;
  event_action: 'acknowledge' | 'resolve';
  dedup_key: string;
}

export type PagerDutyEvent = PagerDutyTriggerEvent | PagerDutyLifecycleEvent;

export const PAGERDUTY_SUMMARY_MAX_CHARS = 1024;
export const PAGERDUTY_DEDUP_KEY_MAX_CHARS = 255;
export const PAGERDUTY_EVENT_MAX_BYTES = 512_000;
export const CUSTOM_DETAILS_REMOVED = {
  error: 'custom details removed: event exceeded 512 kB',
} as const;

const SEVERITY_ICONS: Record<Severity, string> = {
  CRITICAL: '🚨',
  ERROR: '❗',
  WARNING: '⚠️',
  INFO: 'ℹ️',
};

/**
 * Cuts to `max` code points (1023 + `…`). Counting UTF-16 units instead would split
 * surrogate pairs and leave a lone half of an emoji at the cut.
 */
export function truncateCodePoints(text: string, max: number): string {
  const codePoints = Array.from(text);
  if (codePoints.length <= max) return text;
  return codePoints.slice(0, max - 1).join('') + '…';
}

/**
 * PagerDuty refuses dedup keys over 255 characters; hashing (rather than cutting) keeps
 * two long keys sharing a prefix apart, and is deterministic so acknowledge and resolve
 * land on the incident the trigger opened.
 */
export function pagerDutyDedupKey(dedupKey: string): string {
  if (Array.from(dedupKey).length <= PAGERDUTY_DEDUP_KEY_MAX_CHARS) {
    return dedupKey;
  }
  return createHash('sha256').update(dedupKey, 'utf8').digest('hex');
}

export function buildPagerDutySummary(incident: IncidentSnapshot): string {
  const head = `${SEVERITY_ICONS[incident.severity]} [${incident.environment.toUpperCase()}] ${incident.alarmName}`;
  const summary = incident.description
    ? `${head}: ${incident.description}`
    : head;
  return truncateCodePoints(summary, PAGERDUTY_SUMMARY_MAX_CHARS);
}

export function cloudWatchDashboardUrl(region: string, name: string): string {
  return `https://console.aws.amazon.com/cloudwatch/home?region=${encodeURIComponent(region)}#dashboards:name=${encodeURIComponent(name)}`;
}

export function buildPagerDutyEvent(
  event: PagerDutyNotification,
  opts: PagerDutyEventOptions,
): PagerDutyEvent {
  const routingKey = event.routingKey;
  if (!routingKey) {
    throw new NotifierError('no PagerDuty routing key configured', false);
  }
  const dedupKey = pagerDutyDedupKey(event.incident.dedupKey);

  if (event.action !== 'trigger') {
    return {
      routing_key: routingKey,
      event_action: event.action,
      dedup_key: dedupKey,
    };
  }

  const trigger = buildTrigger(routingKey, dedupKey, event.incident, opts);
  if (
    Buffer.byteLength(JSON.stringify(trigger), 'utf8') >
    PAGERDUTY_EVENT_MAX_BYTES
  ) {
    // Assigning in place keeps custom_details at its position in the payload.
    trigger.payload.custom_details = { ...CUSTOM_DETAILS_REMOVED };
  }
  return trigger;
}

function buildTrigger(
  routingKey: string,
  dedupKey: string,
  incident: IncidentSnapshot,
  opts: PagerDutyEventOptions,
): PagerDutyTriggerEvent {
  const component = incident.component || opts.defaultComponent;
  const eventClass = incident.class || opts.defaultClass;

  const payload: PagerDutyPayload = {
    summary: buildPagerDutySummary(incident),
    source: incident.source || `${incident.environment}-${component}`,
    severity: incident.severity.toLowerCase() as PagerDutySeverity,
    timestamp: isoTimestamp(incident.timestamp),
    component,
    group: incident.group || opts.defaultGroup,
    ...(eventClass ? { class: eventClass } : {}),
    custom_details: buildCustomDetails(incident),
  };

  const links: AlertLink[] = [
    {
      href: cloudWatchDashboardUrl(
        opts.awsRegion,
        opts.cloudwatchDashboardName,
      ),
      text: 'CloudWatch Dashboard',
    },
  ];
  if (opts.appDashboardUrl) {
    links.push({ href: opts.appDashboardUrl, text: opts.appDashboardName });
  }
  for (const link of incident.links ?? []) {
    links.push(
      link.text ? { href: link.href, text: link.text } : { href: link.href },
    );
  }

  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload,
    links,
    client: opts.client,
    ...(opts.clientUrl ? { client_url: opts.clientUrl } : {}),
  };
}

/**
 * The incident's own fields come first and win over same-named keys of the alert's
 * customDetails, so what an operator reads in custom_details always matches the summary.
 * Absent fields (null, no recommendations) are left out rather than sent as noise.
 */
function buildCustomDetails(
  incident: IncidentSnapshot,
): Record<string, unknown> {
  const own: Array<[string, unknown]> = [
    ['alarmName', incident.alarmName],
    ['metricName', incident.metricName],
    ['threshold', incident.threshold],
    ['currentValue', incident.currentValue],
    ['environment', incident.environment],
    ['description', incident.description],
    [
      'recommendations',
      incident.recommendations?.length ? incident.recommendations : null,
    ],
  ];
  const entries = own.filter(
    ([, value]) => value !== null && value !== undefined,
  );
  const taken = new Set(own.map(([key]) => key));
  for (const [key, value] of Object.entries(incident.customDetails ?? {})) {
    if (!taken.has(key)) entries.push([key, value]);
  }
  // fromEntries defines own properties, so a `__proto__` key from parsed JSON stays data.
  return Object.fromEntries(entries);
}

function isoTimestamp(value: string): string {
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime())
    ? new Date().toISOString()
    : parsed.toISOString();
}
