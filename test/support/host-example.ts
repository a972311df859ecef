import {
  execFileSync,
  spawn,
  spawnSync,
  type ChildProcess,
} from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'pg';
import { freePort } from './server-process.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'host-token-0123456789';
const TICK_MS = 500;

/** The example host app (examples/host with examples/host/<platform> on top), built from the packed tarball, as a process. */
class HostProcess {
  readonly output: string[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private child!: ChildProcess;
  private exited!: Promise<void>;

  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(env: Record<string, string>): Promise<void> {
    this.output.length = 0;
    this.exit = undefined;
    this.child = spawn(process.execPath, ['dist/main.js'], {
      cwd: this.dir,
      env: {
        PATH: process.env.PATH,
        NO_COLOR: '1',
        HOST: '127.0.0.1',
        PORT: String(this.port),
        HOST_TOKEN: TOKEN,
        TICK_INTERVAL_MS: String(TICK_MS),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d) => this.output.push(String(d)));
    this.child.stderr!.on('data', (d) => this.output.push(String(d)));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
    await this.waitForOutput(/listening on/, 30_000);
  }

  text(): string {
    return this.output.join('');
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.text())) {
      if (this.exit)
        throw new Error(
          `host exited (${this.exit.code ?? this.exit.signal}):\n${this.text()}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `no ${pattern} within ${timeoutMs} ms:\n${this.text()}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  fetch(
    path: string,
    init: { method?: string; body?: unknown; token?: string | null } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (init.token !== null)
      headers.authorization = `Bearer ${init.token ?? TOKEN}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(`${this.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers,
      body:
        init.body === undefined
          ? undefined
          : typeof init.body === 'string'
            ? init.body
            : JSON.stringify(init.body),
    });
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    if (this.exit || !this.child) return;
    this.child.kill(signal);
    await this.exited;
  }
}

async function query<T = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(
        `condition not met in ${timeoutMs} ms: ${JSON.stringify(value)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The example host app on one platform, end to end: packed tarball installed by
 * scripts/host-example.mjs, then the built app run on PostgreSQL.
 */
export function describeHostExample(platform: 'express' | 'fastify'): void {
  describe(`The example host app on ${platform}, installed from the packed tarball (e2e)`, () => {
    let dir: string;
    let tarball: string;
    let db: TestDatabase;
    let host: HostProcess;
    const notifications = () =>
      query<{ action: string; dedup_key: string }>(
        db.url,
        `SELECT action, dedup_key FROM host_notifications ORDER BY id`,
      );

    beforeAll(async () => {
      // npm pack + npm install (registry or npm's cache) + tsc: the slow part, once.
      const out = execFileSync(
        process.execPath,
        ['scripts/host-example.mjs', platform],
        {
          cwd: ROOT,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
          timeout: 400_000,
        },
      );
      ({ dir, tarball } = JSON.parse(out.trim().split('\n').pop()!));
      db = await createTestDatabase();
      host = new HostProcess(dir, await freePort());
      await host.start({ DATABASE_URL: db.url });
    }, 420_000);

    afterAll(async () => {
      await host?.stop('SIGKILL');
      await db?.drop();
      // a whole node_modules: asynchronous, and given time on a busy machine
      if (dir) await rm(dirname(dir), { recursive: true, force: true });
    }, 180_000);

    it("holds one copy of typeorm and of the Nest core, the host's own (npm ls)", () => {
      for (const name of ['typeorm', '@nestjs/core', '@nestjs/common']) {
        const paths = new Set(
          execFileSync('npm', ['ls', name, '--all', '--parseable'], {
            cwd: dir,
            encoding: 'utf8',
          })
            .trim()
            .split('\n')
            .filter(Boolean),
        );
        expect([...paths], name).toEqual([`${dir}/node_modules/${name}`]);
      }
      const installed = JSON.parse(
        execFileSync(
          'npm',
          ['ls', 'orchestrator-alerting', 'typeorm', '--json'],
          {
            cwd: dir,
            encoding: 'utf8',
          },
        ),
      );
      expect(installed.dependencies.typeorm.version).toBe('1.1.1');
      expect(installed.dependencies['orchestrator-alerting'].resolved).toMatch(
        /\.tgz$/,
      );
    });

    it('is refused by npm for a host on typeorm 0.3 (ERESOLVE) instead of nesting a second copy', () => {
      const other = join(dirname(dir), 'host-on-typeorm-0.3');
      mkdirSync(other);
      writeFileSync(
        join(other, 'package.json'),
        JSON.stringify({
          name: 'host-on-typeorm-0.3',
          private: true,
          dependencies: { typeorm: '0.3.20', pg: '^8.23.1' },
        }),
      );
      const install = spawnSync(
        'npm',
        [
          'install',
          '--dry-run',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          tarball,
        ],
        { cwd: other, encoding: 'utf8' },
      );
      expect(install.status).not.toBe(0);
      expect(install.stderr).toMatch(/ERESOLVE/);
      expect(install.stderr).toMatch(/typeorm@"?0\.3\.20/);
    });

    it("guards /alerting with the host's Bearer token and keeps the module's 400/404/409", async () => {
      expect((await host.fetch('/health', { token: null })).status).toBe(200);
      expect((await host.fetch('/hello', { token: null })).status).toBe(401);
      const unauthorized = await host.fetch('/alerting/v1/alerts', {
        token: null,
        body: { severity: 'critical', alarmName: 'no-token' },
      });
      expect(unauthorized.status).toBe(401);
      expect(await unauthorized.json()).toMatchObject({
        message: 'host token required',
      });
      expect(
        (
          await host.fetch('/v1/alerts', {
            body: { severity: 'critical', alarmName: 'x' },
          })
        ).status,
      ).toBe(404);

      const invalid = await host.fetch('/alerting/v1/alerts', {
        body: { alarmName: 'no-severity' },
      });
      expect(invalid.status).toBe(400);
      expect(JSON.stringify(await invalid.json())).toContain('severity');

      const unknown = await host.fetch('/alerting/v1/incidents/nope');
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({
        statusCode: 404,
        error: 'Not Found',
      });
      expect(
        (
          await host.fetch('/alerting/v1/alerts/templates/nope', {
            body: { currentValue: 1, threshold: 2 },
          })
        ).status,
      ).toBe(404);

      expect(
        (
          await host.fetch('/alerting/v1/alerts', {
            body: { severity: 'warning', alarmName: 'conflict' },
          })
        ).status,
      ).toBe(202);
      expect(
        (
          await host.fetch('/alerting/v1/incidents/conflict/resolve', {
            body: {},
          })
        ).status,
      ).toBe(200);
      const again = await host.fetch(
        '/alerting/v1/incidents/conflict/resolve',
        {
          body: {},
        },
      );
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({
        statusCode: 409,
        error: 'Conflict',
      });
      expect(host.text()).not.toMatch(/ExceptionsHandler/);
    });

    it('serves the console at /alerting/console without the token, sending the token as a bearer', async () => {
      const page = await host.fetch('/alerting/console', { token: null });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toMatch(
        /^default-src 'none'; script-src 'self';/,
      );
      expect(await page.text()).toContain(
        '<meta name="alerting-key-header" content="authorization" />',
      );
      const script = await host.fetch('/alerting/console/app.js', {
        token: null,
      });
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      // the API behind it still wants the host's token
      expect(
        (await host.fetch('/alerting/v1/incidents', { token: null })).status,
      ).toBe(401);
    });

    it('takes a 200 KB batch (1 MiB JSON on either platform)', async () => {
      const batch = Array.from({ length: 30 }, (_, i) => ({
        severity: 'info',
        alarmName: `big-${i}`,
        status: 'resolved',
        description: 'x'.repeat(7000),
      }));
      const res = await host.fetch('/alerting/v1/alerts', {
        body: JSON.stringify(batch),
      });
      expect(res.status).toBe(202);
      expect((await res.json()).results).toHaveLength(30);
    });

    it('delivers to the host notifier only: trigger then resolve, as rows of the host table', async () => {
      const triggered = await host.fetch('/alerting/v1/alerts', {
        body: {
          severity: 'critical',
          alarmName: 'host-example',
          metricName: 'Queue',
        },
      });
      expect(triggered.status).toBe(202);
      await until(notifications, (rows) =>
        rows.some((r) => r.dedup_key === 'host-example-Queue'),
      );
      expect(
        (
          await host.fetch(
            '/alerting/v1/incidents/host-example-Queue/resolve',
            {
              body: {},
            },
          )
        ).status,
      ).toBe(200);
      const rows = await until(
        notifications,
        (rows) =>
          rows.filter((r) => r.dedup_key === 'host-example-Queue').length === 2,
      );
      expect(
        rows
          .filter((r) => r.dedup_key === 'host-example-Queue')
          .map((r) => r.action),
      ).toEqual(['trigger', 'resolve']);

      const deliveries = await query<{ notifier: string; state: string }>(
        db.url,
        `SELECT DISTINCT notifier, state FROM alerting_deliveries WHERE dedup_key = $1`,
        ['host-example-Queue'],
      );
      expect(deliveries).toEqual([
        { notifier: 'host-table', state: 'delivered' },
      ]);

      // The module's tables carry its prefix beside the host's own `settings`.
      const tables = (
        await query<{ table_name: string }>(
          db.url,
          `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
        )
      ).map((t) => t.table_name);
      expect(tables).toEqual(
        expect.arrayContaining([
          'settings',
          'host_notifications',
          'host_ticks',
          'alerting_incidents',
          'alerting_deliveries',
        ]),
      );
      expect(tables).not.toContain('incidents');
      expect(tables).not.toContain('deliveries');
    });

    it("runs the host's @Interval job once per interval (one scheduler, the host's)", async () => {
      await new Promise((r) => setTimeout(r, 6 * TICK_MS));
      const ticks = (
        await query<{ at: Date }>(
          db.url,
          `SELECT at FROM host_ticks ORDER BY at`,
        )
      ).map((t) => new Date(t.at).getTime());
      expect(ticks.length).toBeGreaterThanOrEqual(6);
      const span = ticks[ticks.length - 1] - ticks[0];
      // a second scheduler would double the count and put two ticks in each interval
      expect(ticks.length).toBeLessThanOrEqual(Math.round(span / TICK_MS) + 2);
      const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
      expect(Math.min(...gaps)).toBeGreaterThan(TICK_MS / 2);
    });

    it('on SIGTERM drains the send in flight and exits 0', async () => {
      await host.stop('SIGTERM');
      expect(host.exit, host.output.join('').slice(-4000)).toEqual({
        code: 0,
        signal: null,
      });
      // again, with each send taking 1.5 s
      await host.start({ DATABASE_URL: db.url, NOTIFIER_DELAY_MS: '1500' });
      expect(
        (
          await host.fetch('/alerting/v1/alerts', {
            body: { severity: 'critical', alarmName: 'drain' },
          })
        ).status,
      ).toBe(202);
      await host.waitForOutput(/sending trigger drain/);
      const signalledAt = Date.now();
      await host.stop('SIGTERM');
      expect(host.exit, host.output.join('').slice(-4000)).toEqual({
        code: 0,
        signal: null,
      });
      expect(host.text()).toMatch(/sent trigger drain/);
      expect(Date.now() - signalledAt).toBeLessThan(10_000);
      expect(
        (await notifications()).filter((r) => r.dedup_key === 'drain'),
      ).toEqual([{ action: 'trigger', dedup_key: 'drain' }]);
      expect(
        await query(
          db.url,
          `SELECT state, attempts FROM alerting_deliveries WHERE dedup_key = 'drain'`,
        ),
      ).toEqual([{ state: 'delivered', attempts: 1 }]);
    });
  });
}
