import { createRequire } from 'node:module';
import { parseDuration } from '../config/duration.js';
import { maskSecret } from '../config/alerting.config.js';
import type {
  IncidentRoute,
  RouteTarget,
} from '../alerting/incident-router.port.js';
import {
  compileMatchers,
  fieldValue,
  isMatchField,
  MatcherIndex,
  type Matcher,
  type RoutableAlert,
} from './matcher.js';

/** The YAML parser, loaded with the first routing file: ~8 MB a service without one never needs. */
let yamlModule: typeof import('yaml') | undefined;
const yaml = () =>
  (yamlModule ??= createRequire(import.meta.url)(
    'yaml',
  ) as typeof import('yaml'));

/** A routing file that cannot be used; `problems` name each bad rule by its path. */
export class RoutingFileError extends Error {
  constructor(
    readonly problems: string[],
    readonly file?: string,
  ) {
    super(
      `Invalid routing file${file ? ` ${file}` : ''}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'RoutingFileError';
  }
}

interface CompiledRoute {
  name: string;
  match: Matcher;
  targets: RouteTarget[];
  notify: string[];
  pageAfterMs: number | null;
  continue: boolean;
  /** as written, for GET /v1/routing */
  raw: Record<string, unknown>;
}

export interface InhibitRule {
  source: Matcher;
  target: Matcher;
  equal: string[];
}

export interface RouteMatch {
  /** the first route's name, `default` when none matched */
  route: string;
  names: string[];
  targets: RouteTarget[];
  /** notifier names as written: `pagerduty:platform`, `webhook` */
  notifiers: string[];
  pageAfterMs: number | null;
}

export interface ParseOptions {
  /** `${VAR}` in key values reads this */
  env: Record<string, string | undefined>;
  /** the notifiers a route may name; undefined accepts any (offline checks) */
  notifiers?: readonly string[];
  file?: string;
}

const TOP_KEYS = new Set(['pagerduty', 'routes', 'default', 'inhibit']);
const ROUTE_KEYS = new Set([
  'name',
  'match',
  'notify',
  'pageAfter',
  'continue',
]);

function isMap(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The routes in force, compiled once per load: deciding an alert walks plain closures,
 * never the file's text. Immutable: a reload swaps the whole table.
 */
export class RoutingTable {
  private readonly index: MatcherIndex;

  private constructor(
    readonly keys: ReadonlyMap<string, string>,
    private readonly routes: CompiledRoute[],
    private readonly fallback: CompiledRoute | null,
    readonly inhibit: InhibitRule[],
    private readonly rawInhibit: unknown[],
  ) {
    this.index = new MatcherIndex(routes.map((r) => r.match));
  }

  static empty(): RoutingTable {
    return new RoutingTable(new Map(), [], null, [], []);
  }

  get ruleCount(): number {
    return this.routes.length;
  }

  /** YAML or JSON (YAML reads both); throws one {@link RoutingFileError} listing every problem. */
  static parse(text: string, options: ParseOptions): RoutingTable {
    let doc: unknown;
    try {
      doc = yaml().parse(text, { prettyErrors: true });
    } catch (error) {
      throw new RoutingFileError(
        [
          `(file): not YAML or JSON: ${(error as Error).message.split('\n')[0]}`,
        ],
        options.file,
      );
    }
    return RoutingTable.fromObject(doc ?? {}, options);
  }

  static fromObject(doc: unknown, options: ParseOptions): RoutingTable {
    const problems: string[] = [];
    if (!isMap(doc))
      throw new RoutingFileError(
        ['(file): must be a map with routes'],
        options.file,
      );
    for (const k of Object.keys(doc))
      if (!TOP_KEYS.has(k))
        problems.push(`${k}: unknown key; one of ${[...TOP_KEYS].join(', ')}`);

    const keys = new Map<string, string>();
    const pd = doc.pagerduty;
    if (pd !== undefined) {
      if (!isMap(pd) || (pd.keys !== undefined && !isMap(pd.keys)))
        problems.push('pagerduty.keys: must be a map of name: routing key');
      else
        for (const [name, raw] of Object.entries(pd.keys ?? {})) {
          const at = `pagerduty.keys.${name}`;
          if (typeof raw !== 'string') {
            problems.push(`${at}: must be a string`);
            continue;
          }
          const missing: string[] = [];
          const value = raw.replace(
            /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
            (_, v: string) => {
              const got = options.env[v];
              if (got === undefined || got === '') missing.push(v);
              return got ?? '';
            },
          );
          if (missing.length > 0)
            problems.push(
              `${at}: environment variable ${missing.join(', ')} is not set`,
            );
          else if (value.length !== 32)
            problems.push(
              `${at}: must be a 32-character integration key (${maskSecret(value) ?? 'empty'})`,
            );
          else keys.set(name, value);
        }
    }

    const compileNotify = (
      raw: unknown,
      at: string,
    ): [RouteTarget[], string[]] | null => {
      if (!Array.isArray(raw) || raw.length === 0) {
        problems.push(`${at}: must list at least one notifier`);
        return null;
      }
      const targets: RouteTarget[] = [];
      const before = problems.length;
      raw.forEach((entry, i) => {
        if (typeof entry !== 'string' || entry.trim() === '') {
          problems.push(`${at}[${i}]: must be a notifier name`);
          return;
        }
        const [notifier, keyName, extra] = entry.split(':');
        if (
          extra !== undefined ||
          (keyName !== undefined && notifier !== 'pagerduty')
        ) {
          problems.push(
            `${at}[${i}]: only pagerduty:<key name> takes a key, got "${entry}"`,
          );
          return;
        }
        if (options.notifiers && !options.notifiers.includes(notifier)) {
          problems.push(
            `${at}[${i}]: notifier "${notifier}" is not enabled (enabled: ${options.notifiers.join(', ') || 'none'})`,
          );
          return;
        }
        if (keyName !== undefined) {
          const key = keys.get(keyName);
          if (!key) {
            if (!isMap(pd) || !isMap(pd.keys) || !(keyName in pd.keys))
              problems.push(
                `${at}[${i}]: no key "${keyName}" under pagerduty.keys`,
              );
            return;
          }
          targets.push({ notifier, keyName, context: { routingKey: key } });
        } else targets.push({ notifier });
      });
      return problems.length > before ? null : [targets, raw as string[]];
    };
    const compilePause = (raw: unknown, at: string): number | null => {
      if (raw === undefined) return null;
      const ms =
        typeof raw === 'string' || typeof raw === 'number'
          ? parseDuration(raw)
          : null;
      if (ms === null)
        problems.push(`${at}: must be a duration like 30s, 5m, 1h`);
      return ms;
    };

    const routes: CompiledRoute[] = [];
    if (doc.routes !== undefined && !Array.isArray(doc.routes))
      problems.push('routes: must be a list');
    const names = new Set<string>();
    ((doc.routes as unknown[] | undefined) ?? []).forEach((raw, i) => {
      const at = `routes[${i}]`;
      if (!isMap(raw)) {
        problems.push(`${at}: must be a map with name, match, notify`);
        return;
      }
      for (const k of Object.keys(raw))
        if (!ROUTE_KEYS.has(k))
          problems.push(
            `${at}.${k}: unknown key; one of ${[...ROUTE_KEYS].join(', ')}`,
          );
      const name = raw.name;
      if (typeof name !== 'string' || name.trim() === '' || name === 'default')
        problems.push(
          `${at}.name: must be a non-empty name other than "default"`,
        );
      else if (names.has(name))
        problems.push(`${at}.name: "${name}" is used twice`);
      else names.add(name);
      const match = compileMatchers(raw.match, `${at}.match`, problems);
      const notify = compileNotify(raw.notify, `${at}.notify`);
      const pageAfterMs = compilePause(raw.pageAfter, `${at}.pageAfter`);
      if (raw.continue !== undefined && typeof raw.continue !== 'boolean')
        problems.push(`${at}.continue: must be true or false`);
      if (match && notify && typeof name === 'string')
        routes.push({
          name,
          match,
          targets: notify[0],
          notify: notify[1],
          pageAfterMs,
          continue: raw.continue === true,
          raw,
        });
    });

    let fallback: CompiledRoute | null = null;
    if (doc.default !== undefined) {
      const d = doc.default;
      if (!isMap(d)) problems.push('default: must be a map with notify');
      else {
        for (const k of Object.keys(d))
          if (k !== 'notify' && k !== 'pageAfter')
            problems.push(
              `default.${k}: unknown key; one of notify, pageAfter`,
            );
        const notify = compileNotify(d.notify, 'default.notify');
        const pageAfterMs = compilePause(d.pageAfter, 'default.pageAfter');
        if (notify)
          fallback = {
            name: 'default',
            match: () => true,
            targets: notify[0],
            notify: notify[1],
            pageAfterMs,
            continue: false,
            raw: d,
          };
      }
    }

    const inhibit: InhibitRule[] = [];
    if (doc.inhibit !== undefined && !Array.isArray(doc.inhibit))
      problems.push('inhibit: must be a list');
    ((doc.inhibit as unknown[] | undefined) ?? []).forEach((raw, i) => {
      const at = `inhibit[${i}]`;
      if (!isMap(raw)) {
        problems.push(`${at}: must be a map with source, target, equal`);
        return;
      }
      for (const k of Object.keys(raw))
        if (!['source', 'target', 'equal'].includes(k))
          problems.push(
            `${at}.${k}: unknown key; one of source, target, equal`,
          );
      const source = compileMatchers(raw.source, `${at}.source`, problems);
      const target = compileMatchers(raw.target, `${at}.target`, problems);
      const equal = raw.equal ?? [];
      if (!Array.isArray(equal) || equal.some((f) => typeof f !== 'string'))
        problems.push(`${at}.equal: must be a list of field names`);
      else
        equal.forEach((f: string, j) => {
          if (!isMatchField(f))
            problems.push(`${at}.equal[${j}]: unknown field "${f}"`);
        });
      if (source && target && Array.isArray(equal))
        inhibit.push({ source, target, equal: equal as string[] });
    });

    if (problems.length > 0) throw new RoutingFileError(problems, options.file);
    return new RoutingTable(
      keys,
      routes,
      fallback,
      inhibit,
      (doc.inhibit as unknown[]) ?? [],
    );
  }

  /**
   * First match wins, unless it says `continue: true`; nothing matched takes `default`
   * (every enabled notifier when the file has none: `targets` null).
   */
  match(alert: RoutableAlert): RouteMatch | null {
    let matched: CompiledRoute[] | null = null;
    for (const i of this.index.candidates(alert)) {
      const route = this.routes[i];
      if (!route.match(alert)) continue;
      (matched ??= []).push(route);
      if (!route.continue) break;
    }
    const chosen = matched ?? (this.fallback ? [this.fallback] : null);
    if (!chosen) return null;
    const targets: RouteTarget[] = [];
    const notifiers: string[] = [];
    const seen = new Set<string>();
    let pageAfterMs: number | null = null;
    let unpaused = false;
    for (const route of chosen) {
      route.targets.forEach((t, i) => {
        const id = `${t.notifier}:${t.keyName ?? ''}`;
        if (seen.has(id)) return;
        seen.add(id);
        targets.push(t);
        notifiers.push(route.notify[i]);
      });
      // paged as soon as the most eager matched route wants it
      if (route.pageAfterMs === null) unpaused = true;
      else pageAfterMs = Math.min(pageAfterMs ?? Infinity, route.pageAfterMs);
    }
    return {
      route: chosen[0].name,
      names: chosen.map((r) => r.name),
      targets,
      notifiers,
      pageAfterMs: unpaused ? null : pageAfterMs,
    };
  }

  /** What gets stored on the incident; null keeps today's "every enabled notifier". */
  static toIncidentRoute(
    m: RouteMatch | null,
    openedAt: string,
  ): IncidentRoute | null {
    if (!m) return null;
    return {
      names: m.names,
      targets: m.targets,
      ...(m.pageAfterMs
        ? {
            pageAfterUntil: new Date(
              Date.parse(openedAt) + m.pageAfterMs,
            ).toISOString(),
          }
        : {}),
    };
  }

  /** The rules as GET /v1/routing shows them: key names, masked keys. */
  view() {
    return {
      pagerduty: {
        keys: Object.fromEntries(
          [...this.keys].map(([n, k]) => [n, maskSecret(k)]),
        ),
      },
      routes: this.routes.map((r) => r.raw),
      default: this.fallback?.raw ?? null,
      inhibit: this.rawInhibit,
    };
  }
}

/** Equal values on every `equal` field (both missing counts as equal, as in Alertmanager). */
export function equalOn(
  a: RoutableAlert,
  b: RoutableAlert,
  fields: string[],
): boolean {
  return fields.every((f) => fieldValue(a, f) === fieldValue(b, f));
}

/**
 * What `POST /v1/routing/test` and `alerting routes test` answer about a match: key
 * names only (`default` is the key from the environment or the PATCHed one).
 */
export function describeMatch(
  m: RouteMatch | null,
  enabled: readonly string[],
) {
  const notifiers = m ? m.notifiers : [...enabled];
  return {
    route: m?.route ?? 'default',
    routes: m?.names ?? ['default'],
    notifiers,
    pagerdutyKeys: notifiers
      .filter((n) => n === 'pagerduty' || n.startsWith('pagerduty:'))
      .map((n) =>
        n === 'pagerduty' ? 'default' : n.slice('pagerduty:'.length),
      ),
    pageAfterMs: m?.pageAfterMs ?? null,
  };
}

/** The matchable fields of an alert body as it would open an incident. */
export function routableOf(
  alert: {
    severity: string;
    alarmName: string;
    metricName?: string;
    dedupKey?: string;
    environment?: string;
    source?: string;
    component?: string;
    group?: string;
    class?: string;
    customDetails?: Record<string, unknown>;
  },
  defaults: { environment: string; component: string; group: string },
  via = 'http',
): RoutableAlert {
  const metricName = alert.metricName ?? null;
  return {
    severity: alert.severity.toUpperCase(),
    alarmName: alert.alarmName,
    metricName,
    dedupKey:
      alert.dedupKey ??
      (metricName ? `${alert.alarmName}-${metricName}` : alert.alarmName),
    environment: alert.environment ?? defaults.environment,
    source: alert.source ?? null,
    component: alert.component ?? defaults.component,
    group: alert.group ?? defaults.group,
    class: alert.class ?? null,
    via,
    customDetails: alert.customDetails ?? {},
  };
}
