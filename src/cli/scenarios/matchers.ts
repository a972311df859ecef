import type {
  EventMatcher,
  ObservedEvent,
  TextMatcher,
} from './scenario.types.js';

export interface Mismatch {
  field: string;
  expected: unknown;
  got: unknown;
}

export function matchText(matcher: TextMatcher, value: unknown): boolean {
  if (typeof value !== 'string') return false;
  return typeof matcher === 'string'
    ? matcher === value
    : new RegExp(matcher.pattern).test(value);
}

export const showText = (m: TextMatcher) =>
  typeof m === 'string' ? JSON.stringify(m) : `/${m.pattern}/`;

/** `expected` within `actual`: objects as subsets, arrays and scalars equal. */
export function subsetMismatches(
  expected: unknown,
  actual: unknown,
  path: string,
): Mismatch[] {
  if (
    expected &&
    typeof expected === 'object' &&
    !Array.isArray(expected) &&
    !('pattern' in expected && Object.keys(expected).length === 1)
  ) {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual))
      return [{ field: path, expected, got: actual }];
    return Object.entries(expected).flatMap(([k, v]) =>
      subsetMismatches(
        v,
        (actual as Record<string, unknown>)[k],
        `${path}.${k}`,
      ),
    );
  }
  if (expected && typeof expected === 'object' && 'pattern' in expected)
    return matchText(expected as TextMatcher, actual)
      ? []
      : [
          {
            field: path,
            expected: showText(expected as TextMatcher),
            got: actual,
          },
        ];
  return JSON.stringify(expected) === JSON.stringify(actual)
    ? []
    : [{ field: path, expected, got: actual }];
}

/** Fields an event body is needed for: a target's outbox shows only action and key. */
export const BODY_FIELDS = [
  'severity',
  'summary',
  'source',
  'customDetails',
  'links',
  'routingKey',
] as const;

export function needsBody(m: EventMatcher): boolean {
  return BODY_FIELDS.some((f) => m[f] !== undefined);
}

/**
 * What differs between the matcher and the event; empty when it matches. PagerDuty
 * bodies carry severity, summary and source in `payload`, `custom_details` there too.
 */
export function eventMismatches(
  m: EventMatcher,
  e: ObservedEvent,
  routingKeys: Record<string, string>,
): Mismatch[] {
  const out: Mismatch[] = [];
  if (m.action !== undefined && m.action !== e.action)
    out.push({ field: 'action', expected: m.action, got: e.action });
  if (m.dedupKey !== undefined && !matchText(m.dedupKey, e.dedupKey))
    out.push({
      field: 'dedupKey',
      expected: showText(m.dedupKey),
      got: e.dedupKey,
    });
  if (!needsBody(m)) return out;
  const body = e.body;
  if (!body) {
    out.push({
      field: 'body',
      expected: 'the event as sent',
      got: 'not visible (only action and key are)',
    });
    return out;
  }
  const payload = (body.payload ?? {}) as Record<string, unknown>;
  if (m.severity !== undefined && m.severity !== payload.severity)
    out.push({
      field: 'severity',
      expected: m.severity,
      got: payload.severity,
    });
  if (m.summary !== undefined && !matchText(m.summary, payload.summary))
    out.push({
      field: 'summary',
      expected: showText(m.summary),
      got: payload.summary,
    });
  if (m.source !== undefined && !matchText(m.source, payload.source))
    out.push({
      field: 'source',
      expected: showText(m.source),
      got: payload.source,
    });
  if (m.customDetails !== undefined)
    out.push(
      ...subsetMismatches(
        m.customDetails,
        payload.custom_details,
        'customDetails',
      ),
    );
  if (m.links !== undefined) {
    const links = (Array.isArray(body.links) ? body.links : []) as {
      href?: string;
      text?: string;
    }[];
    m.links.forEach((want, i) => {
      const found = links.some(
        (l) =>
          (want.href === undefined || matchText(want.href, l.href)) &&
          (want.text === undefined || matchText(want.text, l.text)),
      );
      if (!found)
        out.push({
          field: `links[${i}]`,
          expected: Object.fromEntries(
            Object.entries(want).map(([k, v]) => [
              k,
              showText(v as TextMatcher),
            ]),
          ),
          got: links,
        });
    });
  }
  if (m.routingKey !== undefined) {
    const key = routingKeys[m.routingKey];
    if (body.routing_key !== key) {
      const name = Object.entries(routingKeys).find(
        ([, v]) => v === body.routing_key,
      )?.[0];
      out.push({
        field: 'routingKey',
        expected:
          key === undefined
            ? `${m.routingKey} (no key of that name)`
            : m.routingKey,
        got: name ?? mask(String(body.routing_key)),
      });
    }
  }
  return out;
}

const mask = (key: string) => `****${key.slice(-4)}`;

/** A unified diff per field, `-` what the file expects, `+` what came: a markdown ```diff colours it. */
export function diffLines(mismatches: Mismatch[]): string[] {
  return mismatches.flatMap((m) => [
    `- ${m.field}: ${show(m.expected)}`,
    `+ ${m.field}: ${show(m.got)}`,
  ]);
}

export function show(value: unknown): string {
  if (value === undefined) return '(nothing)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

export function describeMatcher(m: EventMatcher): string {
  const parts: string[] = [m.action ?? 'any event'];
  if (m.dedupKey !== undefined) parts.push(`for ${showText(m.dedupKey)}`);
  const extra: string[] = [];
  if (m.severity) extra.push(m.severity);
  if (m.summary !== undefined) extra.push(`summary ${showText(m.summary)}`);
  if (m.source !== undefined) extra.push(`source ${showText(m.source)}`);
  if (m.customDetails)
    extra.push(`customDetails ⊇ ${JSON.stringify(m.customDetails)}`);
  if (m.links) extra.push(`${m.links.length} link(s)`);
  if (m.routingKey) extra.push(`key ${m.routingKey}`);
  return `${parts.join(' ')}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

export const describeEvent = (e: ObservedEvent) =>
  `${e.action} ${e.dedupKey} at +${e.atMs} ms`;
