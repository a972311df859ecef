import { SEVERITIES } from '../notifier/notifier.port.js';

/** What routes, silences and inhibit rules can match on: the alert as it opens an incident. */
export interface RoutableAlert {
  severity: string;
  alarmName: string;
  metricName: string | null;
  dedupKey: string;
  environment: string;
  source: string | null;
  component: string | null;
  group: string | null;
  class: string | null;
  /** the ingest source: http, template, sns, eventbridge, alertmanager */
  via: string;
  customDetails: Record<string, unknown>;
}

export const MATCH_FIELDS = [
  'severity',
  'alarmName',
  'metricName',
  'dedupKey',
  'environment',
  'source',
  'component',
  'group',
  'class',
  'via',
] as const;

const FIELD_SET = new Set<string>(MATCH_FIELDS);
const CUSTOM = 'customDetails.';

export function isMatchField(name: string): boolean {
  return (
    FIELD_SET.has(name) ||
    (name.startsWith(CUSTOM) && name.length > CUSTOM.length)
  );
}

/** A field's value as matchers see it: customDetails values count only when strings. */
export function fieldValue(alert: RoutableAlert, field: string): string | null {
  if (field.startsWith(CUSTOM)) {
    const v = alert.customDetails[field.slice(CUSTOM.length)];
    return typeof v === 'string' ? v : null;
  }
  return (alert[field as keyof RoutableAlert] as string | null) ?? null;
}

export type Matcher = (alert: RoutableAlert) => boolean;

/** One field's test, compiled once: a Set lookup or an anchored RegExp per alert, no parsing. */
function compileValue(
  field: string,
  raw: unknown,
  path: string,
  problems: string[],
): ((value: string) => boolean) | null {
  const severity = field === 'severity';
  const norm = (s: string) => (severity ? s.toUpperCase() : s);
  const checkSeverity = (s: string, at: string) => {
    if (
      severity &&
      !(SEVERITIES as readonly string[]).includes(s.toUpperCase())
    )
      problems.push(
        `${at}: must be one of ${SEVERITIES.join(', ')} (any case), got "${s}"`,
      );
  };
  if (typeof raw === 'string') {
    checkSeverity(raw, path);
    const want = norm(raw);
    return (v) => norm(v) === want;
  }
  if (Array.isArray(raw)) {
    if (raw.length === 0) {
      problems.push(`${path}: must list at least one value`);
      return null;
    }
    const bad = raw.findIndex((v) => typeof v !== 'string');
    if (bad >= 0) {
      problems.push(`${path}[${bad}]: must be a string`);
      return null;
    }
    raw.forEach((v: string, i) => checkSeverity(v, `${path}[${i}]`));
    const set = new Set(raw.map((v: string) => norm(v)));
    return (v) => set.has(norm(v));
  }
  if (raw && typeof raw === 'object') {
    const keys = Object.keys(raw);
    const regex = (raw as { regex?: unknown }).regex;
    if (keys.length !== 1 || typeof regex !== 'string') {
      problems.push(
        `${path}: must be a string, a list of strings or { regex: "…" }`,
      );
      return null;
    }
    try {
      // whole-value match, as Alertmanager's =~
      const re = new RegExp(`^(?:${regex})$`, severity ? 'i' : '');
      return (v) => re.test(v);
    } catch (error) {
      problems.push(`${path}.regex: ${(error as Error).message}`);
      return null;
    }
  }
  problems.push(
    `${path}: must be a string, a list of strings or { regex: "…" }`,
  );
  return null;
}

/**
 * Compiles a matcher map (`{ severity: CRITICAL, alarmName: { regex: … } }`): every field
 * must match. Problems are pushed as `<path>.<field>: why`; the result is null then.
 */
export function compileMatchers(
  raw: unknown,
  path: string,
  problems: string[],
  { allowEmpty = false }: { allowEmpty?: boolean } = {},
): Matcher | null {
  if (raw === undefined && allowEmpty) return () => true;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(`${path}: must be a map of field: value`);
    return null;
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0 && !allowEmpty) {
    problems.push(`${path}: must name at least one field`);
    return null;
  }
  const before = problems.length;
  const tests: [string, (v: string) => boolean][] = [];
  for (const [field, value] of entries) {
    const at = `${path}.${field}`;
    if (!isMatchField(field)) {
      problems.push(
        `${at}: unknown field; one of ${MATCH_FIELDS.join(', ')} or customDetails.<name>`,
      );
      continue;
    }
    const test = compileValue(field, value, at, problems);
    if (test) tests.push([field, test]);
  }
  if (problems.length > before) return null;
  return (alert) => {
    for (const [field, test] of tests) {
      const v = fieldValue(alert, field);
      if (v === null || !test(v)) return false;
    }
    return true;
  };
}
