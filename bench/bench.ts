// npm run bench: the service on SQLite with a fake PagerDuty, beside a bare NestJS+Fastify
// POST endpoint measured in the same run. Prints figures and ratios; asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { FakePagerDuty } from '../test/fakes/pagerduty.fake.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const API_KEY = 'bench-api-key-0123456789';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function startProcess(
  script: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, script)], {
    env: {
      PATH: process.env.PATH,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`${url}/v1/alerts`, {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: '[]',
      });
      return { child, url };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${script} did not start`);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

let seq = 0;
function alert(prefix: string) {
  seq += 1;
  return {
    severity: 'CRITICAL',
    alarmName: `${prefix}-${seq}`,
    metricName: 'SupportModeSuccessRate',
    threshold: 95,
    currentValue: 85,
    description: 'Success rate has fallen below 95%',
  };
}

async function load(
  url: string,
  body: () => string,
): Promise<{ rps: number; p99: number; non2xx: number }> {
  const result = await autocannon({
    url: `${url}/v1/alerts`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        setupRequest: (req: autocannon.Request) => ({ ...req, body: body() }),
      },
    ],
  });
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
  };
}

async function paced(
  url: string,
  pd: FakePagerDuty,
  perSecond: number,
  seconds: number,
) {
  const sentAt = new Map<string, number>();
  const total = perSecond * seconds;
  const start = performance.now();
  const posts: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const a = alert('paced');
    const key = `${a.alarmName}-${a.metricName}`;
    sentAt.set(key, performance.now());
    posts.push(
      fetch(`${url}/v1/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify(a),
      }),
    );
  }
  await Promise.all(posts);
  await pd.waitFor(
    (r) => r.filter((e) => sentAt.has(e.dedupKey)).length >= total,
    60_000,
  );
  const latencies = pd.received
    .filter((e) => sentAt.has(e.dedupKey))
    .map((e) => e.receivedAt - sentAt.get(e.dedupKey)!);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[
      Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))
    ];
  return {
    p50: pct(50),
    p99: pct(99),
    max: latencies[latencies.length - 1],
    n: latencies.length,
  };
}

async function drained(url: string): Promise<number> {
  const start = performance.now();
  for (;;) {
    const res = await fetch(`${url}/v1/deliveries?state=pending&limit=1`, {
      headers: { 'x-api-key': API_KEY },
    });
    const body = (await res.json()) as { items: unknown[] };
    if (body.items.length === 0) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const ROUTING_KEY = '0123456789abcdef0123456789abcdef';

/**
 * Issue 12's worst case for the hot path: 200 routes that every bench alert walks to the
 * end (each rule's first terms match, its regex does not), then `default`; 50 active
 * silences that match none of them. Routing and holds must cost batch ingest < 10 %.
 */
function routingBenchFile(dir: string): string {
  const keys = Array.from(
    { length: 10 },
    (_, k) => `    team${k}: \${PD_KEY_${k}}`,
  );
  const routes = Array.from(
    { length: 200 },
    (_, i) => `  - name: route-${i}
    match:
      environment: [production, staging]
      severity: [CRITICAL, ERROR]
      alarmName: { regex: "team-${i}-.*" }
      customDetails.team: team-${i}
    notify: [pagerduty:team${i % 10}]${i % 2 ? '\n    pageAfter: 5m' : ''}`,
  );
  const file = join(dir, 'routing.yaml');
  writeFileSync(
    file,
    [
      'pagerduty:',
      '  keys:',
      ...keys,
      'routes:',
      ...routes,
      'default:',
      '  notify: [pagerduty]',
      'inhibit:',
      '  - source: { severity: CRITICAL, alarmName: { regex: "root-.*" } }',
      '    target: { severity: INFO }',
      '    equal: [environment, component]',
    ].join('\n'),
  );
  return file;
}

async function addSilences(url: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({
        matchers: {
          environment: 'production',
          alarmName: { regex: `maint-${i}-.*` },
        },
        duration: '1d',
        comment: 'bench',
        createdBy: 'bench',
      }),
    });
    if (res.status !== 201) throw new Error(`silence: ${res.status}`);
  }
}

/**
 * Batch ingest on two fresh services, one without routing, one with the file above and
 * 50 silences; `BENCH_ONLY=routing` runs this comparison alone.
 */
async function routingComparison(dir: string, pd: FakePagerDuty) {
  const env = (name: string) => ({
    DATABASE_URL: `sqlite:${join(dir, `${name}.sqlite`)}`,
    APP_ENV: 'production',
    API_KEYS: API_KEY,
    NOTIFIERS: 'pagerduty',
    PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
    PAGERDUTY_EVENTS_URL: pd.url,
    PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
  });
  const run = async (name: string, extra: Record<string, string>) => {
    const svc = await startProcess('dist/main.js', { ...env(name), ...extra });
    if (extra.ROUTING_FILE) await addSilences(svc.url, 50);
    const result = await load(svc.url, () =>
      JSON.stringify(Array.from({ length: 100 }, () => alert(name))),
    );
    await drained(svc.url);
    svc.child.kill('SIGKILL');
    pd.reset();
    return result;
  };
  const plain = await run('unrouted', {});
  const routed = await run('routed', {
    ROUTING_FILE: routingBenchFile(dir),
    ...Object.fromEntries(
      Array.from({ length: 10 }, (_, k) => [`PD_KEY_${k}`, `${k}`.repeat(32)]),
    ),
  });
  return [
    `routing: batches of 100, new incidents, fresh service each:`,
    `  no routing file                      ${fmt(plain.rps * 100)} alerts/s (non-2xx ${plain.non2xx})`,
    `  200 routes, 50 active silences       ${fmt(routed.rps * 100)} alerts/s (non-2xx ${routed.non2xx})  ratio ${(routed.rps / plain.rps).toFixed(2)}x (target >= 0.90)`,
  ];
}

const fmt = (n: number) =>
  n.toLocaleString('en-US', { maximumFractionDigits: 0 });

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'alerting-bench-'));
  const pd = new FakePagerDuty({ keepAlive: true });
  await pd.start();
  const lines: string[] = [];
  try {
    if (process.env.BENCH_ONLY === 'routing') {
      lines.push(...(await routingComparison(dir, pd)));
      return;
    }
    const bare = await startProcess('dist-bench/bench/bare.main.js', {});
    await new Promise((r) => setTimeout(r, 2000));
    const bareIdle = rssMb(bare.child.pid!);
    const bareSingle = await load(bare.url, () =>
      JSON.stringify(alert('bare')),
    );
    const bareBatch = await load(bare.url, () =>
      JSON.stringify(Array.from({ length: 100 }, () => alert('bare'))),
    );
    bare.child.kill('SIGKILL');

    // The floor: the same endpoint doing only the durable writes, then also the delivery.
    const floorRun = async (name: string, env: Record<string, string>) => {
      const floor = await startProcess('dist-bench/bench/floor.main.js', {
        FLOOR_DATABASE: join(dir, `${name}.sqlite`),
        ...env,
      });
      const result = await load(floor.url, () => JSON.stringify(alert(name)));
      floor.child.kill('SIGKILL');
      return result;
    };
    const floorWrites = await floorRun('floor', {});
    const floorChecked = await floorRun('floor-checked', { FLOOR_CHECKS: '1' });
    const floorDelivered = await floorRun('floor-delivered', {
      FLOOR_PD_URL: pd.url,
    });
    pd.reset();

    const svc = await startProcess('dist/main.js', {
      DATABASE_URL: `sqlite:${join(dir, 'bench.sqlite')}`,
      APP_ENV: 'production',
      API_KEYS: API_KEY,
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: '0123456789abcdef0123456789abcdef',
      PAGERDUTY_EVENTS_URL: pd.url,
      PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      RATE_LIMIT_PER_MINUTE: '0',
      INGEST_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    });
    await new Promise((r) => setTimeout(r, 2000));
    const idleStart = rssMb(svc.child.pid!);

    // Each phase starts on an empty outbox: a backlog left by the previous one would be
    // measured as this one's slowness. Drain times show the dispatcher's own throughput.
    const single = await load(svc.url, () => JSON.stringify(alert('single')));
    const singleDrain = await drained(svc.url);
    const dedupBody = JSON.stringify({
      ...alert('dedup'),
      alarmName: 'dedup-constant',
    });
    const dedup = await load(svc.url, () => dedupBody);
    await drained(svc.url);
    const batch = await load(svc.url, () =>
      JSON.stringify(Array.from({ length: 100 }, () => alert('batch'))),
    );
    const backlogStart = performance.now();
    const drainTime = await drained(svc.url);
    // The fake keeps every event it accepted (~50k by now); dropping them keeps the bench
    // process's own garbage collection out of the latency it measures.
    pd.reset();
    const latency = await paced(svc.url, pd, 200, 10);
    const peak = rssMb(svc.child.pid!);
    await new Promise((r) => setTimeout(r, 5000));
    const idleAfter = rssMb(svc.child.pid!);
    void backlogStart;
    svc.child.kill('SIGTERM');

    // The same loads with PagerDuty's shipped rate limit (120 events/min per routing key):
    // what an operator gets in a storm, where the outbox holds what PagerDuty may not take
    // yet and ingest no longer shares its core with as many deliveries.
    const shipped = await startProcess('dist/main.js', {
      DATABASE_URL: `sqlite:${join(dir, 'bench-shipped.sqlite')}`,
      APP_ENV: 'production',
      API_KEYS: API_KEY,
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: '0123456789abcdef0123456789abcdef',
      PAGERDUTY_EVENTS_URL: pd.url,
      RATE_LIMIT_PER_MINUTE: '0',
      INGEST_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    });
    const shippedSingle = await load(shipped.url, () =>
      JSON.stringify(alert('shipped-single')),
    );
    const shippedBatch = await load(shipped.url, () =>
      JSON.stringify(Array.from({ length: 100 }, () => alert('shipped-batch'))),
    );
    shipped.child.kill('SIGKILL');
    pd.reset();
    const routing = await routingComparison(dir, pd);

    lines.push(
      `bench: ${DURATION_S}s per load, ${CONNECTIONS} connections, service on SQLite (WAL), fake PagerDuty in the bench process`,
      '',
      `baseline bare NestJS+Fastify POST      ${fmt(bareSingle.rps)} req/s (p99 ${bareSingle.p99} ms)`,
      `baseline bare, 100-alert bodies        ${fmt(bareBatch.rps * 100)} alerts/s`,
      `floor: bare + only the 3 inserts of a new incident, group commit (raw better-sqlite3):`,
      `  writes                               ${fmt(floorWrites.rps)} req/s (p99 ${floorWrites.p99} ms)  ratio ${(floorWrites.rps / bareSingle.rps).toFixed(2)}x of bare`,
      `  writes + class-validator of the alert ${fmt(floorChecked.rps)} req/s (p99 ${floorChecked.p99} ms)  ratio ${(floorChecked.rps / bareSingle.rps).toFixed(2)}x of bare`,
      `  writes + trigger POSTed to PagerDuty ${fmt(floorDelivered.rps)} req/s (p99 ${floorDelivered.p99} ms)  ratio ${(floorDelivered.rps / bareSingle.rps).toFixed(2)}x of bare`,
      '',
      `single alert, new incident each        ${fmt(single.rps)} req/s (p99 ${single.p99} ms, non-2xx ${single.non2xx})  ratio ${(single.rps / bareSingle.rps).toFixed(2)}x of bare (target >= 0.50)`,
      `single alert, deduplicated             ${fmt(dedup.rps)} req/s (p99 ${dedup.p99} ms, non-2xx ${dedup.non2xx})  ratio ${(dedup.rps / bareSingle.rps).toFixed(2)}x of bare`,
      `batches of 100, new incidents          ${fmt(batch.rps * 100)} alerts/s (non-2xx ${batch.non2xx})  target >= 5,000; ratio ${((batch.rps * 100) / (bareBatch.rps * 100)).toFixed(2)}x of bare batch`,
      `with the shipped PagerDuty rate limit (120/min per key; the outbox holds the rest):`,
      `  single alert, new incident each      ${fmt(shippedSingle.rps)} req/s (p99 ${shippedSingle.p99} ms, non-2xx ${shippedSingle.non2xx})  ratio ${(shippedSingle.rps / bareSingle.rps).toFixed(2)}x of bare`,
      `  batches of 100, new incidents        ${fmt(shippedBatch.rps * 100)} alerts/s (non-2xx ${shippedBatch.non2xx})`,
      `outbox backlog drained after the loads   single ${(singleDrain / 1000).toFixed(1)} s (${fmt(single.rps * DURATION_S)} triggers), batch ${(drainTime / 1000).toFixed(1)} s (${fmt(batch.rps * 100 * DURATION_S)} triggers)`,
      `ingest -> PagerDuty received @200/s    p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms, max ${latency.max.toFixed(1)} ms over ${latency.n} alerts (target p99 < 100 ms)`,
      `RSS idle after start                   ${idleStart.toFixed(0)} MB (bare endpoint ${bareIdle.toFixed(0)} MB)`,
      `RSS after load / idle 5 s later        ${peak.toFixed(0)} MB / ${idleAfter.toFixed(0)} MB (target idle < 150 MB)`,
      ...routing,
    );
  } finally {
    await pd.stop();
    rmSync(dir, { recursive: true, force: true });
    console.log(lines.join('\n'));
  }
  process.exit(0);
}

await main();
