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

export type Matcher = ((alert: RoutableAlert) => boolean) & {
  /** the fields tested by value (a string or a list): what a table of rules can index */
  exact?: ReadonlyMap<string, ReadonlySet<string>>;
};

type Getter = (alert: RoutableAlert) => string | null;

/** One static getter per field, made once: no dynamic property lookup per alert. */
const GETTERS: Record<string, Getter> = {
  severity: (a) => a.severity,
  alarmName: (a) => a.alarmName,
  metricName: (a) => a.metricName,
  dedupKey: (a) => a.dedupKey,
  environment: (a) => a.environment,
  source: (a) => a.source,
  component: (a) => a.component,
  group: (a) => a.group,
  class: (a) => a.class,
  via: (a) => a.via,
};

export function getterOf(field: string): Getter {
  const own = GETTERS[field];
  if (own) return own;
  const name = field.slice(CUSTOM.length);
  return (a) => {
    const v = a.customDetails[name];
    return typeof v === 'string' ? v : null;
  };
}

/** One field's test, compiled once: a Set lookup or an anchored RegExp per alert, no parsing. */
function compileValue(
  field: string,
  raw: unknown,
  path: string,
  problems: string[],
  exact: Map<string, Set<string>>,
): ((value: string) => boolean) | null {
  // an alert's severity is upper-case from ingestion on: only the matcher's is normalized
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
    exact.set(field, new Set([want]));
    return (v) => v === want;
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
    exact.set(field, set);
    return (v) => set.has(v);
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
  const getters: Getter[] = [];
  const tests: ((v: string) => boolean)[] = [];
  const exact = new Map<string, Set<string>>();
  for (const [field, value] of entries) {
    const at = `${path}.${field}`;
    if (!isMatchField(field)) {
      problems.push(
        `${at}: unknown field; one of ${MATCH_FIELDS.join(', ')} or customDetails.<name>`,
      );
      continue;
    }
    const test = compileValue(field, value, at, problems, exact);
    if (test) {
      getters.push(getterOf(field));
      tests.push(test);
    }
  }
  if (problems.length > before) return null;
  const n = tests.length;
  const matcher: Matcher = (alert) => {
    for (let i = 0; i < n; i++) {
      const v = getters[i](alert);
      if (v === null || !tests[i](v)) return false;
    }
    return true;
  };
  matcher.exact = exact;
  return matcher;
}

const NONE: readonly number[] = [];

/**
 * Narrows a list of matchers to those that can match an alert, keeping their order: the
 * field tested by value in the most matchers, with the smallest buckets, indexes them
 * (value → matcher positions); matchers not testing it are always candidates. With 200
 * routes split by team, an alert walks its team's routes, not all 200.
 */
export class MatcherIndex {
  private readonly getter: Getter | null = null;
  private readonly buckets = new Map<string, number[]>();
  private readonly rest: number[] = [];
  private readonly all: number[];

  constructor(matchers: readonly Matcher[]) {
    this.all = matchers.map((_, i) => i);
    const fields = new Set(
      matchers.flatMap((m) => [...(m.exact?.keys() ?? [])]),
    );
    let best: { field: string; cost: number } | null = null;
    for (const field of fields) {
      const sizes = new Map<string, number>();
      let unconstrained = 0;
      for (const m of matchers) {
        const values = m.exact?.get(field);
        if (!values) unconstrained++;
        else for (const v of values) sizes.set(v, (sizes.get(v) ?? 0) + 1);
      }
      const cost = Math.max(0, ...sizes.values()) + unconstrained;
      if (!best || cost < best.cost) best = { field, cost };
    }
    if (!best || best.cost >= matchers.length) return;
    this.getter = getterOf(best.field);
    matchers.forEach((m, i) => {
      const values = m.exact?.get(best.field);
      if (!values) this.rest.push(i);
      else
        for (const v of values) {
          const bucket = this.buckets.get(v);
          if (bucket) bucket.push(i);
          else this.buckets.set(v, [i]);
        }
    });
  }

  /** Positions, ascending, of the matchers that may match `alert`. */
  candidates(alert: RoutableAlert): readonly number[] {
    if (!this.getter) return this.all;
    const v = this.getter(alert);
    const bucket = (v === null ? undefined : this.buckets.get(v)) ?? NONE;
    if (this.rest.length === 0) return bucket;
    if (bucket.length === 0) return this.rest;
    const out: number[] = [];
    let i = 0;
    let j = 0;
    while (i < bucket.length || j < this.rest.length) {
      if (
        j >= this.rest.length ||
        (i < bucket.length && bucket[i] < this.rest[j])
      )
        out.push(bucket[i++]);
      else out.push(this.rest[j++]);
    }
    return out;
  }
}
