import type { AlertInput, IngestItem } from './alert.types.js';
import { AlertingError } from '../ops/alerting.errors.js';
import { ALERT_SHAPE, AlertDto } from './dto/alert.dto.js';
import { collectDtoErrors } from '../ops/validation.js';
import { plainAlert } from './dto/plain-alert.js';

const DAY_MS = 86_400_000;
/** Earliest `timestamp` accepted: older is a wrong clock or a wrong field, not an alert. */
export const TIMESTAMP_MIN = Date.parse('2000-01-01T00:00:00.000Z');
/** How far ahead of now a `timestamp` may be (clock skew between hosts). */
export const TIMESTAMP_MAX_AHEAD_MS = DAY_MS;

/**
 * The one validation every edge's alerts go through (HTTP, templates, SNS/CloudWatch,
 * EventBridge, Alertmanager): the AlertDto rules, the shape rules before them, and the
 * timestamp window. Throws `AlertingError('invalid')` listing every problem by the
 * sender's own field names (`meta.at`, `meta.fields`); nothing of the batch is applied.
 */
export function validateAlerts(items: IngestItem[], now: Date): IngestItem[] {
  const problems: string[] = [];
  const valid: IngestItem[] = [];
  const labelled = items.length > 1;
  items.forEach((item, i) => {
    const at = item.meta.at ?? (labelled ? `[${i}]` : '');
    const errors = checkOne(item, at, now);
    if (errors.length === 0 || !item.meta.fields) problems.push(...errors);
    else problems.push(...errors.map((e) => rename(e, at, item.meta.fields!)));
    if (errors.length === 0) valid.push(item);
  });
  if (problems.length > 0)
    throw new AlertingError(
      'invalid',
      `${problems.length} problem(s) in the alerts`,
      { problems },
    );
  return valid;
}

function checkOne(item: IngestItem, at: string, now: Date): string[] {
  const quick = plainAlert(item.alert);
  const checked = quick
    ? { value: quick, errors: [] as string[] }
    : collectDtoErrors<AlertDto>(AlertDto, item.alert, at, ALERT_SHAPE);
  const errors = checked.errors;
  if (errors.length > 0 || !checked.value) return errors;
  const field = (name: string) => (at ? `${at}.${name}` : name);
  const window = `from 2000-01-01 to one day after now (${new Date(now.getTime() + TIMESTAMP_MAX_AHEAD_MS).toISOString()})`;
  if (
    checked.value.timestamp !== undefined &&
    !inWindow(Date.parse(checked.value.timestamp), now)
  )
    errors.push(`${field('timestamp')} must be ${window}`);
  const transitionAt = item.meta.transitionAt?.getTime();
  if (transitionAt !== undefined && !inWindow(transitionAt, now))
    errors.push(`${field('transitionAt')} must be ${window}`);
  // the validated instance: severity upper-cased, exactly the fields the DTO allows
  if (errors.length === 0) item.alert = checked.value as AlertInput;
  return errors;
}

function inWindow(ms: number, now: Date): boolean {
  return (
    Number.isFinite(ms) &&
    ms >= TIMESTAMP_MIN &&
    ms <= now.getTime() + TIMESTAMP_MAX_AHEAD_MS
  );
}

/** `alerts[2].environment must…` becomes `alerts[2].labels.env must…` for an Alertmanager sender. */
function rename(
  message: string,
  at: string,
  fields: Record<string, string>,
): string {
  const base = at ? `${at}.` : '';
  for (const [field, name] of Object.entries(fields)) {
    const head = `${base}${field}`;
    if (message.startsWith(head) && /^[ .[:]/.test(message.slice(head.length)))
      return `${base}${name}${message.slice(head.length)}`;
  }
  return message;
}
