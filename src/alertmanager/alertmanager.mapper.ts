import { createHash } from 'node:crypto';
import type {
  AlertInput,
  AlertLink,
  IngestItem,
  Severity,
} from '../alerting/alert.types.js';
import { ALERT_LIMITS } from '../alerting/dto/alert.dto.js';
import { truncate } from '../alerting/truncate.js';

export interface AlertmanagerMappingDefaults {
  /** used when an alert has no `env` / `environment` label */
  environment: string;
}

/** The webhook body was not an Alertmanager `version: "4"` payload; answer 400. */
export class AlertmanagerMappingError extends Error {
  readonly code = 'ALERTMANAGER_PAYLOAD_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'AlertmanagerMappingError';
  }
}

const SEVERITY_LABELS = new Map<string, Severity>(
  Object.entries({
    critical: 'CRITICAL',
    crit: 'CRITICAL',
    page: 'CRITICAL',
    p1: 'CRITICAL',
    error: 'ERROR',
    err: 'ERROR',
    high: 'ERROR',
    major: 'ERROR',
    p2: 'ERROR',
    warning: 'WARNING',
    warn: 'WARNING',
    medium: 'WARNING',
    minor: 'WARNING',
    p3: 'WARNING',
    info: 'INFO',
    informational: 'INFO',
    low: 'INFO',
    none: 'INFO',
    p4: 'INFO',
    p5: 'INFO',
  } satisfies Record<string, Severity>),
);

/**
 * Turns an Alertmanager webhook (`version: "4"`) into one ingest item per alert.
 * Throws {@link AlertmanagerMappingError} naming the first problem; nothing is mapped
 * from a malformed payload, so the edge can reject the batch whole.
 */
export function mapAlertmanagerWebhook(
  body: unknown,
  defaults: AlertmanagerMappingDefaults,
): IngestItem[] {
  if (!isRecord(body)) {
    throw new AlertmanagerMappingError('body: must be a JSON object');
  }
  if (body.version !== '4') {
    throw new AlertmanagerMappingError(
      `version: expected "4", got ${JSON.stringify(body.version) ?? 'nothing'}`,
    );
  }
  if (!Array.isArray(body.alerts)) {
    throw new AlertmanagerMappingError('alerts: must be an array');
  }
  const groupStatus = body.status;
  const groupKey =
    typeof body.groupKey === 'string' ? body.groupKey : undefined;

  return body.alerts.map((raw, index) =>
    mapAlert(raw, `alerts[${index}]`, { groupStatus, groupKey, defaults }),
  );
}

function mapAlert(
  raw: unknown,
  at: string,
  ctx: {
    groupStatus: unknown;
    groupKey: string | undefined;
    defaults: AlertmanagerMappingDefaults;
  },
): IngestItem {
  if (!isRecord(raw)) {
    throw new AlertmanagerMappingError(`${at}: must be an object`);
  }
  const labels = stringMap(raw.labels, `${at}.labels`, true);
  const annotations = stringMap(raw.annotations, `${at}.annotations`, false);

  const status = raw.status ?? ctx.groupStatus;
  if (status !== 'firing' && status !== 'resolved') {
    throw new AlertmanagerMappingError(
      `${at}.status: expected "firing" or "resolved", got ${JSON.stringify(status) ?? 'nothing'}`,
    );
  }

  const alarmName = labels.alertname || ctx.groupKey;
  if (!alarmName) {
    throw new AlertmanagerMappingError(
      `${at}.labels.alertname: missing, and the payload has no groupKey to fall back on`,
    );
  }

  const startsAt = timestamp(raw.startsAt, `${at}.startsAt`);
  const endsAt = timestamp(raw.endsAt, `${at}.endsAt`);
  const generatorURL = optionalString(raw.generatorURL, `${at}.generatorURL`);
  const fingerprint = optionalString(raw.fingerprint, `${at}.fingerprint`);

  const description = describeAlert(annotations);
  const links: AlertLink[] = generatorURL
    ? [{ href: generatorURL, text: 'Prometheus' }]
    : [];

  const customDetails: Record<string, unknown> = { labels, annotations };
  if (generatorURL) customDetails.generatorURL = generatorURL;
  if (startsAt) customDetails.startsAt = startsAt.iso;
  if (endsAt) customDetails.endsAt = endsAt.iso;
  fitAnnotations(customDetails, annotations);

  // Free text (alarm name, description, annotations) is fitted to the alert's limits;
  // every other field is validated like any alert and named by the sender's name.
  const alert: AlertInput = {
    severity: severityOf(labels.severity),
    alarmName: truncate(alarmName, ALERT_LIMITS.alarmName),
    ...(description
      ? { description: truncate(description, ALERT_LIMITS.description) }
      : {}),
    status,
    environment: labels.env || labels.environment || ctx.defaults.environment,
    dedupKey: `alertmanager-${fingerprint || labelsHash(labels)}`,
    ...(startsAt ? { timestamp: startsAt.iso } : {}),
    ...(links.length ? { links } : {}),
    customDetails,
  };

  const transitionAt = status === 'firing' ? startsAt?.date : endsAt?.date;
  return {
    alert,
    meta: {
      source: 'alertmanager',
      ...(transitionAt ? { transitionAt } : {}),
      at,
      fields: {
        alarmName: labels.alertname ? 'labels.alertname' : 'groupKey',
        environment: labels.env
          ? 'labels.env'
          : labels.environment
            ? 'labels.environment'
            : 'environment',
        description: 'annotations',
        dedupKey: 'fingerprint',
        links: 'generatorURL',
        timestamp: 'startsAt',
        transitionAt: status === 'firing' ? 'startsAt' : 'endsAt',
        'customDetails.labels': 'labels',
        'customDetails.annotations': 'annotations',
        'customDetails.generatorURL': 'generatorURL',
        customDetails: 'labels and annotations',
      },
    },
  };
}

/** An annotation is never cut below this: enough to still say what it was about. */
const ANNOTATION_KEEP = 256;

/**
 * An exporter that dumps logs into an annotation must not cost the page: the longest
 * annotations are cut (ending with `…`) until customDetails fits its 64 KiB. Labels are
 * identity and are never cut; labels alone over the limit are a 400.
 */
function fitAnnotations(
  customDetails: Record<string, unknown>,
  annotations: Record<string, string>,
): void {
  for (;;) {
    const excess =
      Buffer.byteLength(JSON.stringify(customDetails), 'utf8') -
      ALERT_LIMITS.customDetailsBytes;
    if (excess <= 0) return;
    let longest: string | undefined;
    for (const key of Object.keys(annotations))
      if (
        annotations[key].length > ANNOTATION_KEEP &&
        (longest === undefined ||
          annotations[key].length > annotations[longest].length)
      )
        longest = key;
    if (longest === undefined) return;
    const value = annotations[longest];
    // bytes can be up to 3 per UTF-16 unit (6 escaped); cutting `excess` units is a floor
    annotations[longest] = truncate(
      value,
      Math.max(ANNOTATION_KEEP, value.length - excess - 16),
    );
  }
}

export function severityOf(label: string | undefined): Severity {
  if (!label) return 'WARNING';
  return SEVERITY_LABELS.get(label.trim().toLowerCase()) ?? 'WARNING';
}

function describeAlert(
  annotations: Record<string, string>,
): string | undefined {
  const summary = annotations.summary?.trim();
  const description = annotations.description?.trim();
  if (summary && description && summary !== description) {
    return `${summary} — ${description}`;
  }
  return summary || description || undefined;
}

/**
 * Alertmanager's own fingerprint is a hash of the label set; this stands in for it with
 * the same property (order-independent, stable across restarts) when a sender omits it.
 */
function labelsHash(labels: Record<string, string>): string {
  const canonical = JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((key) => [key, labels[key]]),
  );
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/**
 * Go marshals an unset time.Time as `0001-01-01T00:00:00Z`; it means "no time", and
 * passing it on would make a firing alert look resolved two thousand years ago.
 */
function timestamp(
  value: unknown,
  at: string,
): { iso: string; date: Date } | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    throw new AlertmanagerMappingError(`${at}: must be an RFC 3339 string`);
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new AlertmanagerMappingError(`${at}: not a valid timestamp`);
  }
  if (date.getUTCFullYear() <= 1) return undefined;
  return { iso: date.toISOString(), date };
}

function stringMap(
  value: unknown,
  at: string,
  required: boolean,
): Record<string, string> {
  if (value === undefined || value === null) {
    if (required) throw new AlertmanagerMappingError(`${at}: missing`);
    return {};
  }
  if (!isRecord(value)) {
    throw new AlertmanagerMappingError(`${at}: must be an object`);
  }
  const entries = Object.entries(value);
  for (const [key, v] of entries) {
    if (typeof v !== 'string') {
      throw new AlertmanagerMappingError(`${at}.${key}: must be a string`);
    }
  }
  // fromEntries keeps a `__proto__` label as data instead of swapping the prototype.
  return Object.fromEntries(entries) as Record<string, string>;
}

function optionalString(value: unknown, at: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    throw new AlertmanagerMappingError(`${at}: must be a string`);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
