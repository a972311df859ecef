import { SEVERITIES } from '../alert.types.js';
import { shapeErrors } from '../../ops/validation.js';
import { ALERT_LIMITS, ALERT_SHAPE, AlertDto } from './alert.dto.js';

const SEVERITY = new Set<string>(SEVERITIES);
const DETAILS_MAX_BYTES = ALERT_LIMITS.customDetailsBytes;

const text =
  (min: number, max: number) =>
  (v: unknown): boolean =>
    typeof v === 'string' && v.length >= min && v.length <= max;
const finite = (v: unknown): boolean =>
  typeof v === 'number' && Number.isFinite(v);

/**
 * The fields an alert body usually has, each with a check that can only accept what the
 * AlertDto's decorators accept. Lengths are UTF-16 units: class-validator counts a
 * surrogate pair as one character, so a string short enough here is short enough there.
 * Fields left out (timestamp, links, resolveTimeout) always take the full check.
 */
const PLAIN_FIELDS = new Map<string, (v: unknown) => boolean>(
  Object.entries({
    severity: (v) => typeof v === 'string' && SEVERITY.has(v.toUpperCase()),
    alarmName: text(1, ALERT_LIMITS.alarmName),
    metricName: text(0, ALERT_LIMITS.metricName),
    threshold: finite,
    currentValue: finite,
    environment: text(1, ALERT_LIMITS.environment),
    description: text(0, ALERT_LIMITS.description),
    recommendations: (v) =>
      Array.isArray(v) &&
      v.length <= ALERT_LIMITS.recommendations &&
      v.every(text(0, ALERT_LIMITS.recommendation)),
    status: (v) => v === 'firing' || v === 'resolved',
    dedupKey: text(1, ALERT_LIMITS.dedupKey),
    source: text(0, 255),
    component: text(0, 255),
    group: text(0, 255),
    class: text(0, 255),
    customDetails: (v) =>
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      Buffer.byteLength(JSON.stringify(v), 'utf8') <= DETAILS_MAX_BYTES,
  }),
);

/**
 * The AlertDto that class-transformer and class-validator would make of `body`, when
 * `body` is plainly valid: only known fields, each of the simple kind above, severity and
 * alarmName present. Undefined otherwise, and the full validation runs (and names every
 * problem). Most alerts take this path, at a small fraction of the decorators' cost. The
 * shape rules (depth, malformed Unicode) apply here as on the full path.
 */
export function plainAlert(body: unknown): AlertDto | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return undefined;
  const plain = body as Record<string, unknown>;
  if (plain.severity === undefined || plain.alarmName === undefined)
    return undefined;
  // first: it bounds the depth that JSON.stringify of customDetails recurses into
  if (shapeErrors(plain, '', ALERT_SHAPE).length > 0) return undefined;
  for (const key in plain) {
    if (!Object.hasOwn(plain, key)) return undefined;
    const check = PLAIN_FIELDS.get(key);
    if (!check || !check(plain[key])) return undefined;
  }
  const dto = Object.assign(new AlertDto(), plain);
  dto.severity = (
    plain.severity as string
  ).toUpperCase() as AlertDto['severity'];
  return dto;
}
