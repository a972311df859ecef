import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { parseDuration } from '../../config/duration.js';
import type { Scenario, Step } from './scenario.types.js';

export const STEP_KINDS = [
  'alert',
  'template',
  'cloudwatch',
  'eventbridge',
  'alertmanager',
  'pagerduty',
  'advance',
  'silence',
  'expireSilence',
  'fakePagerDuty',
  'expect',
  'none',
  'incident',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Steps that cannot run against a running service: its clock and its PagerDuty are not ours. */
export const IN_PROCESS_ONLY: ReadonlySet<StepKind> = new Set([
  'advance',
  'fakePagerDuty',
]);

/** A file refused before anything ran: every problem, each naming where it is. */
export class ScenarioFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'ScenarioFileError';
  }
}

const SCHEMA_URL = new URL('./scenario.schema.json', import.meta.url);
let compiled:
  | { file: ValidateFunction; steps: Map<StepKind, ValidateFunction> }
  | undefined;

export function scenarioSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as Record<
    string,
    unknown
  >;
}

/**
 * The whole-file schema (what editors use) is a oneOf of step kinds, whose errors name
 * every kind a step is not. So a step is checked against the one kind its key names,
 * which gives `steps[3].expect.within: …` instead of thirteen alternatives.
 */
function validators() {
  if (compiled) return compiled;
  const schema = scenarioSchema();
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(schema, 'scenario');
  const defs = schema.definitions as Record<string, unknown>;
  const file = ajv.compile({
    ...schema,
    $id: undefined,
    properties: {
      ...(schema.properties as object),
      steps: { type: 'array', minItems: 1, items: { type: 'object' } },
    },
  });
  const steps = new Map<StepKind, ValidateFunction>();
  for (const kind of STEP_KINDS) {
    if (!defs[`${kind}Step`]) throw new Error(`schema lacks ${kind}Step`);
    steps.set(kind, ajv.getSchema(`scenario#/definitions/${kind}Step`)!);
  }
  compiled = { file, steps };
  return compiled;
}

function pathOf(base: string, error: ErrorObject): string {
  let path = base;
  for (const part of error.instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(key) ? `[${key}]` : path ? `.${key}` : key;
  }
  if (error.keyword === 'additionalProperties')
    return `${path ? `${path}.` : ''}${(error.params as { additionalProperty: string }).additionalProperty}`;
  if (error.keyword === 'required')
    return `${path ? `${path}.` : ''}${(error.params as { missingProperty: string }).missingProperty}`;
  return path || '(file)';
}

function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return 'unknown field';
    case 'required':
      return 'is required';
    case 'enum':
      return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'oneOf':
      return 'matches none of the allowed forms';
    case 'pattern':
      return (error.params as { pattern: string }).pattern.includes(
        'ms|s|m|h|d',
      )
        ? DURATION_PROBLEM
        : (error.message ?? 'does not match its pattern');
    default:
      return error.message ?? error.keyword;
  }
}

/**
 * One line per field. A oneOf reports every branch: the value fits none of the forms at
 * its own path (`must be string`) and fails the closest form deeper down; the deeper
 * error says what to fix, so the shallower ones go.
 */
function messages(base: string, errors: ErrorObject[]): string[] {
  const paths = errors.map((e) => pathOf(base, e));
  const byPath = new Map<string, string>();
  errors.forEach((e, i) => {
    const path = paths[i];
    if (e.keyword === 'if') return;
    const shallow = ['type', 'oneOf', 'anyOf', 'enum', 'pattern'].includes(
      e.keyword,
    );
    if (
      shallow &&
      paths.some((p) => p.startsWith(`${path}.`) || p.startsWith(`${path}[`))
    )
      return;
    if (!byPath.has(path)) byPath.set(path, describe(e));
  });
  return [...byPath].map(([path, why]) => `${path}: ${why}`);
}

const DURATION_PROBLEM = 'not a duration (500ms, 30s, 5m, 4h, 1d)';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w-]*)\s*\}\}/g;

/** `{{name}}` in every string; a string that is one placeholder takes the value's type (`count: "{{count}}"`). */
export function substitute(
  value: unknown,
  vars: Record<string, unknown>,
  keep: ReadonlySet<string> = new Set(),
): unknown {
  if (typeof value === 'string') {
    const whole = /^\{\{\s*([A-Za-z_][\w-]*)\s*\}\}$/.exec(value);
    if (whole && whole[1] in vars && !keep.has(whole[1])) {
      const v = vars[whole[1]];
      // --var count=100 arrives as text; a count is still a number
      return typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    }
    return value.replace(PLACEHOLDER, (m, name: string) =>
      name in vars && !keep.has(name) ? String(vars[name]) : m,
    );
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars, keep));
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substitute(v, vars, keep)]),
    );
  return value;
}

export interface LoadOptions {
  /** overrides of the file's `vars` (simulate --count) */
  vars?: Record<string, unknown>;
  /** the `{{run}}` id; default a fresh one */
  runId?: string;
}

export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

/** Parses and validates one file; throws {@link ScenarioFileError} naming every problem. */
export function loadScenario(
  path: string,
  options: LoadOptions = {},
): Scenario {
  const file = resolve(path);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'), {
      prettyErrors: true,
      // `<<: *alert`: a step that differs from an earlier one in a field or two
      merge: true,
    });
  } catch (error) {
    if (error instanceof YAMLParseError)
      throw new ScenarioFileError(path, [`not valid YAML: ${error.message}`]);
    throw new ScenarioFileError(path, [(error as Error).message]);
  }
  return parseScenario(raw, path, dirname(file), options);
}

export function parseScenario(
  raw: unknown,
  path: string,
  baseDir: string,
  options: LoadOptions = {},
): Scenario {
  const { file: validateFile, steps: stepValidators } = validators();
  if (!validateFile(raw))
    throw new ScenarioFileError(path, messages('', validateFile.errors ?? []));
  const doc = raw as {
    name?: string;
    description?: string;
    env?: Record<string, unknown>;
    routing?: string | Record<string, unknown>;
    vars?: Record<string, unknown>;
    steps: Record<string, unknown>[];
  };
  const run = options.runId ?? newRunId();
  // a var may use {{run}} (`environment: sim-{{run}}`), not other vars
  const vars = {
    ...(substitute({ ...doc.vars, ...options.vars }, { run }) as object),
    run,
  } as Record<string, unknown>;
  const problems: string[] = [];
  const steps: Step[] = [];
  doc.steps.forEach((rawStep, index) => {
    const at = `steps[${index}]`;
    const kinds = STEP_KINDS.filter((k) => k in rawStep);
    if (kinds.length !== 1) {
      problems.push(
        kinds.length === 0
          ? `${at}: a step needs one of ${STEP_KINDS.join(', ')}`
          : `${at}: one kind per step, found ${kinds.join(' and ')}`,
      );
      return;
    }
    const kind = kinds[0];
    // {{i}} numbers the copies of a repeated alert; it is filled in when they are made
    const step = substitute(rawStep, vars, new Set(['i'])) as Record<
      string,
      unknown
    >;
    const unknown = new Set(
      [...JSON.stringify(step).matchAll(PLACEHOLDER)]
        .map((m) => m[1])
        .filter((name) => name !== 'i'),
    );
    if (unknown.size > 0) {
      problems.push(
        `${at}: ${[...unknown].map((n) => `{{${n}}}`).join(', ')} is not a var of this file (vars:, --var)`,
      );
      return;
    }
    const validate = stepValidators.get(kind)!;
    if (!validate(step)) {
      problems.push(...messages(at, validate.errors ?? []));
      return;
    }
    problems.push(...semanticProblems(kind, step, at));
    steps.push({ kind, index, path: at, body: step } as Step);
  });
  if (problems.length > 0) throw new ScenarioFileError(path, problems);
  const env = Object.fromEntries(
    Object.entries(substitute(doc.env ?? {}, vars) as object).map(([k, v]) => [
      k,
      String(v),
    ]),
  );
  return {
    file: path,
    name: doc.name ?? path,
    description: doc.description,
    env,
    routing:
      typeof doc.routing === 'string'
        ? { path: resolve(baseDir, doc.routing) }
        : doc.routing
          ? { inline: doc.routing }
          : undefined,
    runId: String(vars.run),
    steps,
  };
}

/** What a schema cannot say: durations in range, regexes that compile, a silence expired after it was made. */
function semanticProblems(
  kind: StepKind,
  step: Record<string, unknown>,
  at: string,
): string[] {
  const problems: string[] = [];
  const duration = (value: unknown, where: string) => {
    if (value !== undefined && parseDuration(value as string) === null)
      problems.push(`${at}.${where}: ${DURATION_PROBLEM}`);
  };
  const regexes = (value: unknown, where: string) => {
    if (Array.isArray(value))
      value.forEach((v, i) => regexes(v, `${where}[${i}]`));
    else if (value && typeof value === 'object') {
      const pattern = (value as { pattern?: unknown }).pattern;
      if (typeof pattern === 'string' && Object.keys(value).length === 1) {
        try {
          new RegExp(pattern);
        } catch (error) {
          problems.push(`${at}.${where}.pattern: ${(error as Error).message}`);
        }
      } else
        for (const [k, v] of Object.entries(value)) regexes(v, `${where}.${k}`);
    }
  };
  if (kind === 'advance') duration(step.advance, 'advance');
  if (kind === 'none') {
    const none = step.none;
    if (none && typeof none === 'object')
      duration((none as { for: unknown }).for, 'none.for');
    else duration(none, 'none');
  }
  if (kind === 'expect') {
    const expect = step.expect as Record<string, unknown>;
    duration(expect.within, 'expect.within');
    regexes(expect, 'expect');
    const single = Object.keys(expect).filter(
      (k) => !['notifier', 'within', 'events', 'count', 'attempts'].includes(k),
    );
    if (expect.events && (single.length > 0 || expect.count !== undefined))
      problems.push(
        `${at}.expect.events: list the events, or describe one kind of event (${single.concat(expect.count !== undefined ? ['count'] : []).join(', ')}), not both`,
      );
  }
  if (kind === 'silence')
    duration(
      (step.silence as { duration?: unknown }).duration,
      'silence.duration',
    );
  return problems;
}

/** The YAML files of the arguments, directories walked recursively, in a stable order. */
export function scenarioFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        const child = join(path, entry);
        if (statSync(child).isDirectory()) walk(child);
        else if (/\.(ya?ml)$/.test(entry) && !isRoutingFile(child))
          out.push(child);
      }
    } else out.push(path);
  };
  for (const path of paths) walk(path);
  return out;
}

/** A directory of scenarios may hold the routing files they name: those have no `steps`. */
function isRoutingFile(path: string): boolean {
  try {
    const doc = parseYaml(readFileSync(path, 'utf8')) as unknown;
    return !(doc && typeof doc === 'object' && 'steps' in doc);
  } catch {
    return false;
  }
}
