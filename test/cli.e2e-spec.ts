import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUILTIN_SCENARIOS,
  builtinScenarioFile,
} from '../src/cli/scenarios/builtin.js';
import { loadScenario } from '../src/cli/scenarios/scenario-file.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { ServerProcess } from './support/server-process.js';
import { TEST_API_KEY } from './support/test-app.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const GOOD_KEY = '0123456789abcdef0123456789abcdef';
// Well-formed, so the service boots with it; the fake PagerDuty knows no such integration.
const UNKNOWN_KEY = 'ffffffffffffffffffffffffffffffff';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 90_000,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A strict little XML 1.0 reader (no DTDs, no CDATA: the report uses neither): throws on
 * anything not well-formed, so the test does not depend on xmllint being installed.
 */
function parseXml(source: string): XmlElement {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(
      `not well-formed XML at ${i}: ${why} near ${JSON.stringify(source.slice(i, i + 40))}`,
    );
  };
  const text = (raw: string) => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(raw))
      fail('bare &');
    if (raw.includes('<')) fail('< in text');
    return raw
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
  };
  const NAME = /[A-Za-z_:][\w:.-]*/y;
  const name = () => {
    NAME.lastIndex = i;
    const m = NAME.exec(source);
    if (!m) fail('expected a name');
    i = NAME.lastIndex;
    return m![0];
  };
  const space = () => {
    while (/\s/.test(source[i] ?? '')) i++;
  };
  if (source.startsWith('<?xml')) {
    const end = source.indexOf('?>');
    if (end < 0) fail('unterminated declaration');
    i = end + 2;
  }
  space();
  const element = (): XmlElement => {
    if (source[i] !== '<') fail('expected <');
    i++;
    const el: XmlElement = {
      name: name(),
      attributes: {},
      children: [],
      text: '',
    };
    for (;;) {
      space();
      if (source.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (source[i] === '>') {
        i++;
        break;
      }
      const attr = name();
      space();
      if (source[i] !== '=') fail('expected =');
      i++;
      space();
      const quote = source[i];
      if (quote !== '"' && quote !== "'") fail('unquoted attribute');
      const end = source.indexOf(quote, i + 1);
      if (end < 0) fail('unterminated attribute');
      if (attr in el.attributes) fail(`duplicate attribute ${attr}`);
      el.attributes[attr] = text(source.slice(i + 1, end));
      i = end + 1;
    }
    for (;;) {
      const next = source.indexOf('<', i);
      if (next < 0) fail(`unclosed <${el.name}>`);
      el.text += text(source.slice(i, next));
      i = next;
      if (source.startsWith('</', i)) {
        i += 2;
        if (name() !== el.name) fail(`mismatched </…> for <${el.name}>`);
        space();
        if (source[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      el.children.push(element());
    }
  };
  const root = element();
  space();
  if (i !== source.length) fail('content after the root element');
  return root;
}

const all = (el: XmlElement, name: string): XmlElement[] =>
  el.children.flatMap((c) => [
    ...(c.name === name ? [c] : []),
    ...all(c, name),
  ]);

describe('alerting CLI (e2e)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('simulate, in-process', () => {
    it.each(BUILTIN_SCENARIOS)(
      '%s passes and writes a JUnit report with one testcase per expectation',
      async (name) => {
        const out = join(dir, `${name}.xml`);
        const run = await cli([
          'simulate',
          name,
          '--report',
          'junit',
          '--out',
          out,
          ...(name === 'storm' ? ['--count', '20'] : []),
        ]);

        expect(run.stderr).toMatch(new RegExp(`${name}\\.yaml: PASSED`));
        expect(run.code).toBe(0);
        const root = parseXml(readFileSync(out, 'utf8'));
        expect(root.name).toBe('testsuites');
        const cases = all(root, 'testcase');
        // one per expectation the file declares: expect, none, incident, answer
        const declared = loadScenario(builtinScenarioFile(name)).steps.filter(
          (st) =>
            ['expect', 'none', 'incident'].includes(st.kind) ||
            st.body.answer !== undefined,
        );
        expect(cases).toHaveLength(declared.length);
        expect(all(root, 'failure')).toHaveLength(0);
        expect(all(root, 'testsuite')[0].attributes).toMatchObject({
          name,
          file: expect.stringMatching(
            new RegExp(`dist/cli/scenarios/builtin/${name}\\.yaml$`),
          ),
          failures: '0',
          tests: String(cases.length),
        });
      },
    );

    it('shows storm progress on stderr and keeps stdout for the report', async () => {
      const run = await cli([
        'simulate',
        'storm',
        '--count',
        '5',
        '--report',
        'json',
      ]);

      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/✓ steps\[1\] pagerduty gets 5× trigger/);
      const report = JSON.parse(run.stdout);
      expect(report).toMatchObject({
        passed: true,
        target: 'in-process',
        files: [{ name: 'storm', status: 'passed' }],
      });
      expect(report.files[0].expectations[1].got).toHaveLength(5);
    });
  });

  describe('against a running service', () => {
    const pd = new FakePagerDuty();
    let db: TestDatabase;
    let server: ServerProcess;

    beforeAll(async () => {
      await pd.start();
      pd.rejectRoutingKeys(UNKNOWN_KEY);
      db = await createTestDatabase();
      server = await ServerProcess.start({
        APP_ENV: 'production',
        DATABASE_URL: db.url,
        NOTIFIERS: 'pagerduty',
        PAGERDUTY_ROUTING_KEY: UNKNOWN_KEY,
        PAGERDUTY_EVENTS_URL: pd.url,
        DELIVERY_RETRY_BASE: '100ms',
        DISPATCH_POLL_INTERVAL: '200ms',
      });
    });
    afterAll(async () => {
      await server?.kill('SIGTERM');
      await db?.drop();
      await pd.stop();
    });

    it('fails a scenario whose PagerDuty key is refused, naming the dead deliveries', async () => {
      const out = join(dir, 'dead.json');
      const run = await cli([
        'simulate',
        'high-failure-rate',
        '--target',
        server.url,
        '--api-key',
        TEST_API_KEY,
        '--report',
        'json',
        '--out',
        out,
      ]);

      expect(run.code).toBe(1);
      const report = JSON.parse(readFileSync(out, 'utf8'));
      expect(report.passed).toBe(false);
      expect(report.target).toBe(server.url);
      const byId = Object.fromEntries(
        report.files[0].expectations.map((e: any) => [e.id, e]),
      );
      expect(byId['steps[0].answer'].passed).toBe(true);
      expect(byId['steps[1]']).toMatchObject({ passed: false });
      expect(byId['steps[1]'].message).toMatch(
        /dead delivery: trigger .*Invalid routing key/,
      );
      expect(run.stderr).toMatch(/✗ steps\[1\]: dead delivery: trigger /);
      expect(pd.received).toHaveLength(0);
    });

    it('lists, acknowledges and resolves incidents', async () => {
      const auth = ['--target', server.url, '--api-key', TEST_API_KEY];
      await server.post('/v1/alerts', {
        severity: 'ERROR',
        alarmName: 'cli-incident',
      });

      const list = await cli([
        'incidents',
        'list',
        '--status',
        'triggered',
        ...auth,
      ]);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/triggered\s+ERROR\s+1\s+\S+\s+cli-incident/);

      const ack = await cli(['incidents', 'ack', 'cli-incident', ...auth]);
      expect(ack).toMatchObject({
        code: 0,
        stdout: 'cli-incident: acknowledged\n',
      });
      const resolve = await cli([
        'incidents',
        'resolve',
        'cli-incident',
        '--json',
        ...auth,
      ]);
      expect(resolve.code).toBe(0);
      expect(JSON.parse(resolve.stdout)).toMatchObject({
        dedupKey: 'cli-incident',
        status: 'resolved',
      });

      const again = await cli([
        'incidents',
        'resolve',
        'cli-incident',
        ...auth,
      ]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(
        /HTTP 409 incident cli-incident is already resolved/,
      );
      const noKey = await cli(['incidents', 'list', '--target', server.url]);
      expect(noKey.code).toBe(1);
      expect(noKey.stderr).toMatch(/HTTP 401/);
    });
  });

  describe('check-config', () => {
    it('exits 1 naming PAGERDUTY_ROUTING_KEY when the key has 31 characters', async () => {
      const run = await cli(['check-config'], {
        APP_ENV: 'production',
        API_KEYS: 'k1',
        PAGERDUTY_ROUTING_KEY: GOOD_KEY.slice(1),
      });

      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /PAGERDUTY_ROUTING_KEY: must be exactly 32 characters/,
      );
      expect(run.stdout).toBe('');
    });

    it('lists every problem at once', async () => {
      const run = await cli(['check-config'], {
        APP_ENV: 'production',
        PORT: 'eighty',
        NOTIFIERS: 'pagerduty,fax',
      });

      expect(run.code).toBe(1);
      for (const variable of ['PORT', 'NOTIFIERS', 'API_KEYS'])
        expect(run.stderr).toContain(`${variable}:`);
    });

    it('prints the effective configuration with secrets masked', async () => {
      const run = await cli(['check-config', '--json'], {
        APP_ENV: 'production',
        API_KEYS: 'first-secret-key-aaaa,second-secret-key-bbbb',
        PAGERDUTY_ROUTING_KEY: GOOD_KEY,
        DATABASE_URL: 'postgres://alerting:hunter2@db:5432/alerting',
      });

      expect(run.code).toBe(0);
      const config = JSON.parse(run.stdout);
      expect(config.pagerduty).toMatchObject({
        routingKey: '****cdef',
        eventsUrl: 'https://events.pagerduty.com/v2/enqueue',
      });
      expect(config.apiKeys).toEqual(['****aaaa', '****bbbb']);
      expect(config.databaseUrl).toBe(
        'postgres://alerting:****@db:5432/alerting',
      );
      expect(run.stdout).not.toContain(GOOD_KEY);
      expect(run.stdout).not.toContain('hunter2');
      expect(run.stdout).not.toContain('first-secret');
    });
  });

  it.each([
    [[]],
    [['simulate']],
    [['test']],
    [['check-config']],
    [['incidents']],
    [['alarms']],
  ])('%j --help explains itself', async (args) => {
    const run = await cli([...args, '--help']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: /);
  });

  it('answers usage errors with exit 2', async () => {
    expect((await cli(['simulate', 'nope'])).code).toBe(2);
    expect((await cli(['simulate', 'storm', '--count', '0'])).code).toBe(2);
    expect(
      (
        await cli([
          'simulate',
          'pagerduty-outage',
          '--target',
          'http://127.0.0.1:9',
        ])
      ).code,
    ).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
  });
});
