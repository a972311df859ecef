import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenarioFiles } from '../src/cli/scenarios/run-files.js';
import type { FileReport } from '../src/cli/scenarios/scenario.types.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { ServerProcess } from './support/server-process.js';
import { TEST_API_KEY } from './support/test-app.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');
const FIXTURES = join(ROOT, 'test/fixtures/scenarios');
const KEY = '0123456789abcdef0123456789abcdef';

async function run(file: string, vars?: Record<string, unknown>) {
  const lines: string[] = [];
  const { report, refused } = await runScenarioFiles([file], {
    progress: (l) => lines.push(l),
    vars,
  });
  return { report, refused, file: report.files[0], lines };
}

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const failed = (f: FileReport) =>
  f.expectations.filter((e) => !e.passed && !e.skipped);

describe('alerting test: scenario files (e2e)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-scenarios-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('runs every step and expectation kind in process, on a clock the file moves', async () => {
    const { file, lines } = await run(join(FIXTURES, 'every-step.yaml'));

    expect(failed(file), lines.join('\n')).toEqual([]);
    expect(file.status).toBe('passed');
    // 2h of stale timeout and 1h of `none` passed on the file's clock, not the wall's
    expect(file.scenarioMs).toBeGreaterThan(3 * 3_600_000);
    expect(file.durationMs).toBeLessThan(30_000);
    const kinds = new Set(file.expectations.map((e) => e.id));
    expect(kinds.size).toBe(file.expectations.length);
    const attempts = file.expectations.find((e) =>
      e.description.includes('after 2 attempt(s)'),
    );
    expect(attempts?.passed).toBe(true);
  });

  it.each([
    ['checkout-latency.yaml'],
    ['alertmanager-dedup.yaml'],
    ['stale-eventbridge.yaml'],
    // a named key of the routing file beside them
    ['checkout-latency-payments.yaml'],
    ['cost-page-after.yaml'],
    ['maintenance-silence.yaml'],
    // PagerDuty's signed acknowledge webhook
    ['alertmanager-acknowledged.yaml'],
  ])('example %s passes in process', async (name) => {
    const { file, lines } = await run(join(ROOT, 'examples/scenarios', name));

    expect(failed(file), lines.join('\n')).toEqual([]);
    expect(file.error).toBeUndefined();
    expect(file.status).toBe('passed');
  });

  it('a 20-step file with advance logs how long its steps took (the speed line)', async () => {
    const { file, lines } = await run(join(FIXTURES, 'twenty-steps.yaml'));

    expect(failed(file), lines.join('\n')).toEqual([]);
    const summary = lines.find((l) => l.includes('PASSED'))!;
    expect(summary).toMatch(/20 steps in \d+ ms/);
    // eslint-disable-next-line no-console
    console.log(`scenario speed: ${summary}`);
  });

  it('does not wait on a resolve queued behind its trigger in backoff: the trigger is what is due', async () => {
    const path = write(
      'queued-behind.yaml',
      `name: resolve behind a trigger in backoff
steps:
  - fakePagerDuty: down
  - alert: &a { severity: CRITICAL, alarmName: queued-behind, description: outage }
    answer: { status: 202, actions: triggered }
  - alert: { <<: *a, status: resolved }
    answer: { status: 202, actions: resolved }
  - none: 5s
  - fakePagerDuty: up
  - advance: 2m
  - expect:
      events: [{ action: trigger, dedupKey: queued-behind }, { action: resolve, dedupKey: queued-behind }]
      within: 1m
`,
    );
    const { file, lines } = await run(path);

    expect(file.status, lines.join('\n')).toBe('passed');
    // Each settle used to count the resolve as due and wait 10 s of real time for a send
    // that could not happen before its trigger's retry.
    expect(file.durationMs).toBeLessThan(5_000);
  });

  it('a wrong expectation fails with a diff a person can act on', async () => {
    const path = write(
      'wrong.yaml',
      `name: wrong on purpose
steps:
  - alert: { severity: WARNING, alarmName: disk-full, description: 91% used }
  - expect:
      action: trigger
      dedupKey: disk-full
      severity: critical
      summary: { pattern: "^🚨" }
      customDetails: { team: storage }
      within: 10s
  - incident: { dedupKey: disk-full, status: resolved }
  - expect: { action: resolve, dedupKey: disk-full, within: 1m }
`,
    );
    const { file, report } = await run(path);

    expect(report.passed).toBe(false);
    expect(file.status).toBe('failed');
    const [severity, incident, resolve] = failed(file);
    expect(severity.id).toBe('steps[1]');
    expect(severity.message).toBe(
      'expected 1 matching event(s) within 10000 ms, pagerduty got 0 (and 1 other(s))',
    );
    expect(severity.diff).toEqual([
      expect.stringMatching(
        /^@@ trigger for "disk-full" \(critical, summary \/\^🚨\/, customDetails ⊇ \{"team":"storage"\}\): closest is trigger disk-full at \+\d+ ms @@$/u,
      ),
      '- severity: critical',
      '+ severity: warning',
      '- summary: /^🚨/',
      '+ summary: ⚠️ [STAGING] disk-full: 91% used',
      '- customDetails.team: storage',
      '+ customDetails.team: (nothing)',
    ]);
    expect(incident).toMatchObject({
      id: 'steps[2]',
      message: 'status is triggered, expected resolved',
      diff: ['- status: resolved', '+ status: triggered'],
    });
    // waited a minute of the file's clock, not of the wall's
    expect(resolve.message).toMatch(
      /expected 1 matching event\(s\) within 60000 ms, pagerduty got 0/,
    );
    expect(file.durationMs).toBeLessThan(10_000);
  });

  it('refuses a bad file before anything runs, naming each step by its path', async () => {
    const path = write(
      'bad.yaml',
      `steps:
  - alert: { severity: CRITICAL, alarmName: ok }
  - expect: { action: trigger, within: soon }
  - expect: { action: page }
  - advance: 5m
    alert: { severity: INFO, alarmName: two-kinds }
  - silence: { matchers: {}, duratoin: 1h }
  - expect: { summary: { pattern: "([" } }
  - frobnicate: true
`,
    );
    const { report, refused } = await run(path);

    expect(report.passed).toBe(false);
    expect(report.files[0]).toMatchObject({
      status: 'invalid',
      expectations: [],
    });
    expect(refused[0].problems).toEqual([
      'steps[1].expect.within: not a duration (500ms, 30s, 5m, 4h, 1d)',
      'steps[2].expect.action: must be one of trigger, acknowledge, resolve',
      'steps[3]: one kind per step, found alert and advance',
      'steps[4].silence.duratoin: unknown field',
      expect.stringMatching(
        /^steps\[5\]\.expect\.summary\.pattern: Invalid regular expression/,
      ),
      expect.stringMatching(
        /^steps\[6\]: a step needs one of alert, template, /,
      ),
    ]);
  });

  it('refuses YAML that does not parse, with its line', async () => {
    const path = write('broken.yaml', 'steps:\n  - alert: { severity: [\n');
    const { refused } = await run(path);
    expect(refused[0].problems[0]).toMatch(
      /^not valid YAML: .* at line 3, column 1/s,
    );
  });

  describe('the CLI (dist)', () => {
    it('runs the examples a user would write, and they pass', async () => {
      const out = join(dir, 'examples.xml');
      const res = await cli([
        'test',
        'examples/scenarios',
        '--report',
        'junit',
        '--out',
        out,
      ]);

      expect(res.stderr).toMatch(/PASSED: \d+\/\d+ file\(s\) passed/);
      expect(res.code).toBe(0);
      const xml = readFileSync(out, 'utf8');
      expect(xml).toContain('<testsuites name="alerting test"');
      expect(xml).not.toContain('<failure');
      // routing.yaml sits beside them and is not a scenario
      expect(xml).not.toContain('routing.yaml');
    }, 180_000);

    it('exits 1 on a failing file and 2 on usage errors', async () => {
      const path = write(
        'fails.yaml',
        `steps:
  - alert: { severity: INFO, alarmName: x }
  - expect: { action: resolve, within: 1s }
`,
      );
      const res = await cli(['test', path, '--report', 'json']);
      expect(res.code).toBe(1);
      const report = JSON.parse(res.stdout);
      expect(report.files[0].expectations[0]).toMatchObject({
        id: 'steps[1]',
        passed: false,
      });
      expect(res.stderr).toContain('✗ steps[1]: expected 1 matching event(s)');

      expect((await cli(['test'])).code).toBe(2);
      expect((await cli(['test', join(dir, 'nope.yaml')])).code).toBe(2);
      expect((await cli(['test', path, '--report', 'pdf'])).code).toBe(2);
    }, 180_000);
  });

  describe('--target: the same files against a running service', () => {
    const pd = new FakePagerDuty();
    let db: TestDatabase;
    let server: ServerProcess;

    beforeAll(async () => {
      await pd.start();
      db = await createTestDatabase();
      server = await ServerProcess.start({
        APP_ENV: 'production',
        DATABASE_URL: db.url,
        NOTIFIERS: 'pagerduty',
        PAGERDUTY_ROUTING_KEY: KEY,
        PAGERDUTY_EVENTS_URL: pd.url,
        DISPATCH_POLL_INTERVAL: '200ms',
      });
    });
    afterAll(async () => {
      await server?.kill('SIGTERM');
      await db?.drop();
      await pd.stop();
    });

    it('runs files that keep to real time and reports clock-moving ones not runnable', async () => {
      const live = write(
        'live.yaml',
        `name: live
steps:
  - alert: { severity: ERROR, alarmName: "live-{{run}}", description: live check }
    answer: { actions: triggered }
  - expect: { action: trigger, dedupKey: "live-{{run}}", severity: error, within: 10s }
  - alert: { severity: ERROR, alarmName: "live-{{run}}", status: resolved }
  - expect: { action: resolve, dedupKey: "live-{{run}}", within: 10s }
  - incident: { dedupKey: "live-{{run}}", status: resolved }
`,
      );
      const out = join(dir, 'target.json');
      const res = await cli([
        'test',
        live,
        join(FIXTURES, 'every-step.yaml'),
        '--target',
        server.url,
        '--api-key',
        TEST_API_KEY,
        '--report',
        'json',
        '--out',
        out,
      ]);

      // one file could not run there: not a pass
      expect(res.code).toBe(1);
      const report = JSON.parse(readFileSync(out, 'utf8'));
      const [ran, skipped] = report.files;
      expect(ran.status).toBe('passed');
      expect(ran.expectations[1].message).toMatch(
        /\(severity not checked: not visible against a target\)/,
      );
      expect(skipped).toMatchObject({
        status: 'not-runnable',
        expectations: [],
      });
      expect(skipped.error).toMatch(
        /steps\[\d+\]\.fakePagerDuty, steps\[\d+\]\.advance/,
      );
      // what the service really sent
      expect(pd.received.map((e) => e.body.event_action)).toEqual([
        'trigger',
        'resolve',
      ]);
    });
  });
});
