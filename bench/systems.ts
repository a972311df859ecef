// The two systems under comparison, started fresh for each round, plus the node scripts
// (bare endpoint, floor) the comparison keeps as reference lines.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ID } from './wrk.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const API_KEY = 'bench-api-key-0123456789';
export const ROUTING_KEY = '0123456789abcdef0123456789abcdef';

/** Alertmanager's route: each alert its own group (like an incident), paged at once. */
export const AM_ROUTE = {
  group_by: "['...']",
  group_wait: '0s',
  group_interval: '1m',
  repeat_interval: '4h',
};

// The same alert content for both: our fields, Alertmanager's labels and annotations.
const DESCRIPTION = 'Success rate has fallen below 95%';
const OUR_ALERT = JSON.stringify({
  severity: 'CRITICAL',
  alarmName: ID,
  metricName: 'SupportModeSuccessRate',
  environment: 'production',
  threshold: 95,
  currentValue: 85,
  description: DESCRIPTION,
});
const AM_ALERT = JSON.stringify({
  labels: {
    alertname: ID,
    severity: 'critical',
    metric: 'SupportModeSuccessRate',
    environment: 'production',
  },
  annotations: {
    description: DESCRIPTION,
    threshold: '95',
    current_value: '85',
  },
});

export interface System {
  name: string;
  url: string;
  pid: number;
  path: string;
  headers: Record<string, string>;
  /** one alert's JSON, {@link ID} where its unique name goes */
  item: string;
  /** a single alert is sent as an array of one */
  singleAsArray: boolean;
  /** alerts the system holds whose name starts with `prefix`: what it accepted */
  accepted(prefix: string): Promise<number>;
  /** throws with the process's output if it has exited */
  check(): void;
  stop(): Promise<void>;
}

// test/support has the same helper, but importing it would load the whole test app
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function findAlertmanager(): string | undefined {
  for (const name of ['prometheus-alertmanager', 'alertmanager']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], {
      encoding: 'utf8',
    });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return undefined;
}

export function alertmanagerVersion(binary: string): string {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return /version (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

const CLOCK_TICKS = Number(
  spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100,
);

/** CPU seconds a process (all its threads) has used, user and system. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name may hold spaces and parentheses: count fields after its last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds the whole machine has spent busy (every core, not idle nor waiting on I/O). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const [user, nice, system, , , irq, softirq, steal] = line
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

async function until<T>(
  probe: () => Promise<T | undefined>,
  child: ChildProcess,
  output: string[],
  what: string,
): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited during start:\n${output.join('')}`);
    }
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} did not start:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function checker(
  child: ChildProcess,
  output: string[],
  what: string,
): () => void {
  return () => {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `${what} exited (${child.exitCode ?? child.signalCode}):\n${output.join('').slice(-4000)}`,
      );
  };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
}

export async function startAlertmanager(
  binary: string,
  dir: string,
  pagerDutyUrl: string,
): Promise<System> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(
    config,
    [
      'route:',
      '  receiver: pagerduty',
      ...Object.entries(AM_ROUTE).map(([k, v]) => `  ${k}: ${v}`),
      'receivers:',
      '  - name: pagerduty',
      '    pagerduty_configs:',
      `      - routing_key: ${ROUTING_KEY}`,
      `        url: ${pagerDutyUrl}`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  await until(
    async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
    child,
    output,
    'Alertmanager',
  );
  return {
    name: 'Alertmanager',
    url,
    pid: child.pid!,
    path: '/api/v2/alerts',
    headers: { 'Content-Type': 'application/json' },
    item: AM_ALERT,
    singleAsArray: true,
    accepted: async (prefix) => {
      const filter = encodeURIComponent(`alertname=~"${prefix}-.*"`);
      const res = await fetch(`${url}/api/v2/alerts?filter=${filter}`);
      if (!res.ok) throw new Error(`Alertmanager alerts: ${res.status}`);
      return ((await res.json()) as unknown[]).length;
    },
    check: checker(child, output, 'Alertmanager'),
    stop: stopper(child),
  };
}

/** Our service's environment for the comparison: throttles off, info logs, SQLite. */
export function serviceEnv(
  database: string,
  pagerDutyUrl: string,
): Record<string, string> {
  return {
    DATABASE_URL: `sqlite:${database}`,
    APP_ENV: 'production',
    API_KEYS: API_KEY,
    NOTIFIERS: 'pagerduty',
    PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
    PAGERDUTY_EVENTS_URL: pagerDutyUrl,
    PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_PER_MINUTE: '0',
    INGEST_RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
  };
}

/**
 * How `npm start` runs the service: V8's young generation capped at 8 MB semi-spaces
 * (Node's default lets boot grow them to 16 MB and keeps them: ~10 MB of idle RSS).
 */
export const SERVICE_NODE_ARGS = ['--max-semi-space-size=8'];

/** A node script of this repository (dist/main.js, a bench script) on a free port. */
export async function startNode(
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<{
  url: string;
  pid: number;
  check: () => void;
  stop: () => Promise<void>;
}> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, script)], {
    env: {
      PATH: process.env.PATH,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    // stdout carries the request log lines: written, as in production, but not kept
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d) => output.push(String(d)));
  await until(
    async () => {
      await fetch(`${url}/v1/alerts`, {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: '[]',
      });
      return true;
    },
    child,
    output,
    script,
  );
  return {
    url,
    pid: child.pid!,
    check: checker(child, output, script),
    stop: stopper(child),
  };
}

export async function startService(
  database: string,
  pagerDutyUrl: string,
): Promise<System> {
  const proc = await startNode(
    'dist/main.js',
    serviceEnv(database, pagerDutyUrl),
    SERVICE_NODE_ARGS,
  );
  // Counted in the service's own file (WAL: a reader never blocks its writer).
  const db = new Database(database, { readonly: true, fileMustExist: true });
  const count = db.prepare(
    `SELECT COUNT(*) AS n FROM incidents WHERE alarm_name LIKE ? ESCAPE '\\'`,
  );
  return {
    name: 'this service',
    url: proc.url,
    pid: proc.pid,
    path: '/v1/alerts',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY },
    item: OUR_ALERT,
    singleAsArray: false,
    accepted: async (prefix) =>
      (count.get(`${prefix.replace(/[\\%_]/g, '\\$&')}-%`) as { n: number }).n,
    check: proc.check,
    stop: async () => {
      db.close();
      await proc.stop();
    },
  };
}
