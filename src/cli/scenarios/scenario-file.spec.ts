import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { BUILTIN_SCENARIOS, builtinScenarioFile } from './builtin.js';
import {
  loadScenario,
  parseScenario,
  scenarioFiles,
  scenarioSchema,
  ScenarioFileError,
  STEP_KINDS,
  substitute,
} from './scenario-file.js';

const EXAMPLES = fileURLToPath(
  new URL('../../../examples/scenarios', import.meta.url),
);

const parse = (doc: unknown, vars?: Record<string, unknown>) =>
  parseScenario(doc, 'inline.yaml', '/tmp', { vars, runId: 'abc123' });

const problems = (doc: unknown): string[] => {
  try {
    parse(doc);
  } catch (error) {
    if (error instanceof ScenarioFileError) return error.problems;
    throw error;
  }
  return [];
};

describe('scenario files', () => {
  it('the shipped schema is a JSON Schema the files editors open validate against', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(scenarioSchema());
    const files = [
      ...BUILTIN_SCENARIOS.map(builtinScenarioFile),
      ...scenarioFiles([EXAMPLES]),
    ];
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const file of files) {
      const ok = validate(
        parseYaml(readFileSync(file, 'utf8'), { merge: true }),
      );
      expect({ file, errors: validate.errors }).toEqual({ file, errors: null });
      expect(ok).toBe(true);
      expect(() => loadScenario(file)).not.toThrow();
    }
    // one definition per step kind, so editors complete each
    const defs = scenarioSchema().definitions as Record<string, unknown>;
    for (const kind of STEP_KINDS) expect(defs[`${kind}Step`]).toBeDefined();
  });

  it('a directory yields its scenarios, not the routing files beside them', () => {
    const files = scenarioFiles([EXAMPLES]).map((f) => f.split('/').pop());
    expect(files).toContain('checkout-latency.yaml');
    expect(files).toContain('checkout-latency-payments.yaml');
    expect(files).not.toContain('routing.yaml');
  });

  it('fills {{vars}}, {{run}} and keeps {{i}} for repeat; a whole placeholder keeps its type', () => {
    const s = parse(
      {
        vars: { count: 3, env: 'sim-{{run}}' },
        env: { APP_ENV: 'production', RETRIES: 2 },
        steps: [
          {
            alert: { severity: 'INFO', alarmName: '{{env}}-{{i}}' },
            repeat: '{{count}}',
          },
          { expect: { count: '{{count}}', dedupKey: { pattern: '^{{env}}' } } },
        ],
      },
      { count: '5' },
    );
    expect(s.runId).toBe('abc123');
    expect(s.env).toEqual({ APP_ENV: 'production', RETRIES: '2' });
    expect(s.steps[0].body).toEqual({
      alert: { severity: 'INFO', alarmName: 'sim-abc123-{{i}}' },
      repeat: 5,
    });
    expect(s.steps[1].body.expect).toEqual({
      count: 5,
      dedupKey: { pattern: '^sim-abc123' },
    });
    expect(substitute('{{unknown}} stays', {})).toBe('{{unknown}} stays');
    expect(
      problems({
        steps: [{ alert: { severity: 'INFO', alarmName: '{{nme}}' } }],
      }),
    ).toEqual(['steps[0]: {{nme}} is not a var of this file (vars:, --var)']);
  });

  it('names every problem by its path, the file-level ones too', () => {
    expect(problems({ steps: [] })).toEqual([
      'steps: must NOT have fewer than 1 items',
    ]);
    expect(problems({ name: 'x', stepz: [], steps: [{ none: '5m' }] })).toEqual(
      ['stepz: unknown field'],
    );
    expect(
      problems({
        steps: [
          { none: '5m' },
          { expect: { events: [{ action: 'trigger' }], action: 'trigger' } },
          { template: { name: 'nope', currentValue: 1, threshold: 2 } },
          { incident: { status: 'open' } },
          { none: { for: '1x' } },
          { alert: { severity: 'INFO' } },
        ],
      }),
    ).toEqual([
      'steps[1].expect.events: list the events, or describe one kind of event (action), not both',
      'steps[2].template.name: must be one of high-failure-rate, high-latency, cost-threshold',
      'steps[3].incident.dedupKey: is required',
      'steps[3].incident.status: must be one of triggered, acknowledged, resolved',
      'steps[4].none.for: not a duration (500ms, 30s, 5m, 4h, 1d)',
      'steps[5].alert.alarmName: is required',
    ]);
  });

  it('resolves a routing file relative to the scenario', () => {
    const s = parseScenario(
      { routing: 'routing.yaml', steps: [{ advance: '1m' }] },
      'a/b.yaml',
      '/srv/scenarios',
    );
    expect(s.routing).toEqual({ path: '/srv/scenarios/routing.yaml' });
  });
});
