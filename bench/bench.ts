// npm run bench: this service side by side with a real Prometheus Alertmanager, each
// paging its own local fake PagerDuty, both loaded by wrk in the same run; then a bare
// NestJS+Fastify endpoint and the floor as reference lines. Prints figures; asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FakePagerDuty } from '../src/testing/fake-pagerduty.js';
import { Deliveries, paced, sendBatches } from './deliveries.js';
import { routingComparison } from './routing.js';
import {
  AM_ROUTE,
  SERVICE_NODE_ARGS,
  alertmanagerVersion,
  findAlertmanager,
  rssMb,
  startAlertmanager,
  startNode,
  startService,
  type System,
} from './systems.js';
import {
  BATCH_CONNECTIONS,
  DURATION_S,
  WRK_CONNECTIONS,
  WRK_THREADS,
  runWrk,
  wrkInstalled,
  type WrkLoad,
  type WrkResult,
} from './wrk.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const HISTORY = 20_000;
const PACED_PER_S = 200;
const PACED_S = 10;
const CAP_MS = 60_000;
const RSS_TARGET_MB = 150;
const SETTLE_MS = 3_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : 'n/a';

interface Measured {
  single: WrkResult;
  repeat: WrkResult;
  batch: WrkResult;
  /** distinct triggers of the batch load per second, from load start to the last one */
  deliveredPerS: number;
  deliveredN: number;
  deliveredS: number;
  lost: number;
  duplicates: number;
  rejected: number;
  unmatched: number;
  singleDrainS: number | null;
  singleAccepted: number;
  history: number;
  latency: Awaited<ReturnType<typeof paced>>;
  rssIdle: number;
  rssAfter: number;
}

function load(
  system: System,
  prefix: string,
  extra: Partial<WrkLoad>,
): WrkLoad {
  return {
    url: system.url,
    path: system.path,
    headers: system.headers,
    item: system.item,
    perRequest: 1,
    array: system.singleAsArray,
    prefix,
    ...extra,
  };
}

/** Progress on stderr, so the tables on stdout stay clean. */
const began = performance.now();
const progress = (what: string) =>
  process.stderr.write(
    `  [${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${what}\n`,
  );

/** Every phase on one fresh system with its own fake PagerDuty. */
async function measure(
  dir: string,
  round: number,
  start: (pagerDutyUrl: string) => Promise<System>,
): Promise<Measured> {
  const pd = new FakePagerDuty({ keepAlive: true });
  await pd.start();
  const deliveries = new Deliveries(pd);
  const system = await start(pd.url);
  const step = (what: string) => {
    system.check();
    progress(`${system.name}: ${what}`);
  };
  try {
    await sleep(2000);
    const rssIdle = rssMb(system.pid);
    const tag = (phase: string) => `b${round}${phase}`;
    step('1. single alerts');

    // 1. a new alert per request; its deliveries drain before the next phase so one
    // phase's backlog is not measured as the next one's slowness
    const single = await runWrk(dir, load(system, tag('single'), {}));
    const drainFrom = performance.now();
    const singleAccepted = await system.accepted(tag('single'));
    const drained = await deliveries.waitFor(
      tag('single'),
      singleAccepted,
      CAP_MS,
    );
    const singleDrainS =
      drained === null ? null : Math.max(0, drained - drainFrom) / 1000;
    step('2. the same alert repeated');

    // 2. the same alert again and again: one incident, one trigger
    const repeat = await runWrk(
      dir,
      load(system, `${tag('repeat')}-0`, { fixed: true }),
    );
    await deliveries.waitFor(tag('repeat'), 1, 10_000);

    // 3 and 4. batches of new alerts; then how fast all of them reached PagerDuty
    step('3. batches, 4. their delivery');
    const loadStart = performance.now();
    const batch = await runWrk(
      dir,
      load(system, tag('batch'), {
        perRequest: 100,
        array: true,
        connections: BATCH_CONNECTIONS,
      }),
    );
    const batchAccepted = await system.accepted(tag('batch'));
    const last = await deliveries.waitFor(tag('batch'), batchAccepted, CAP_MS);
    const deliveredN = deliveries.triggered(tag('batch'));
    const deliveredS = ((last ?? performance.now()) - loadStart) / 1000;

    // 5. latency with a history behind it
    let history = singleAccepted + 1 + batchAccepted;
    if (history < HISTORY) {
      step(`topping the history up to ${HISTORY}`);
      await sendBatches(system, tag('topup'), HISTORY - history);
      const topped = await system.accepted(tag('topup'));
      await deliveries.waitFor(tag('topup'), topped, CAP_MS);
      history += topped;
    }
    // latency at rest, not the tail of the backlog just drained (its last outcome writes,
    // the GC of its garbage): both systems get the same pause
    await sleep(SETTLE_MS);
    step('5. paced latency');
    const latency = await paced(
      system,
      deliveries,
      tag('paced'),
      PACED_PER_S,
      PACED_S,
      CAP_MS,
    );

    // 6. memory once the loads are over
    step('6. RSS after the loads');
    await sleep(5000);
    system.check();
    const rssAfter = rssMb(system.pid);
    deliveries.absorb();
    return {
      single,
      repeat,
      batch,
      deliveredPerS: deliveredN / deliveredS,
      deliveredN,
      deliveredS,
      lost: Math.max(0, batchAccepted - deliveredN),
      duplicates: deliveries.duplicates,
      rejected: deliveries.rejected,
      unmatched: deliveries.unmatched,
      singleDrainS,
      singleAccepted,
      history,
      latency,
      rssIdle,
      rssAfter,
    };
  } finally {
    await system.stop();
    await pd.stop();
  }
}

interface Reference {
  bare: WrkResult;
  /** the bare endpoint with one body repeated: the ceiling for phase 2 */
  bareFixed: WrkResult;
  floor: WrkResult;
  floorChecked: WrkResult;
  floorDelivered: WrkResult;
  bareIdle: number;
}

/** The bare endpoint and the floor (issue 2), same wrk settings as phase 1. */
async function reference(dir: string, round: number): Promise<Reference> {
  const item = JSON.stringify({
    severity: 'CRITICAL',
    alarmName: '@ID@',
    metricName: 'SupportModeSuccessRate',
    threshold: 95,
    currentValue: 85,
    description: 'Success rate has fallen below 95%',
  });
  const on = (url: string, prefix: string): WrkLoad => ({
    url,
    path: '/v1/alerts',
    headers: { 'Content-Type': 'application/json' },
    item,
    perRequest: 1,
    array: false,
    prefix: `b${round}${prefix}`,
  });
  progress('reference: bare endpoint, floor');
  const bare = await startNode('dist-bench/bench/bare.main.js', {});
  let bareIdle: number;
  let bareRun: WrkResult;
  let bareFixed: WrkResult;
  try {
    await sleep(1000);
    bareIdle = rssMb(bare.pid);
    bareRun = await runWrk(dir, on(bare.url, 'bare'));
    // the same body every time, as the repeated-alert phase sends
    bareFixed = await runWrk(dir, {
      ...on(bare.url, 'barefixed'),
      fixed: true,
    });
  } finally {
    await bare.stop();
  }

  const pd = new FakePagerDuty({ keepAlive: true });
  await pd.start();
  const floorRun = async (name: string, env: Record<string, string>) => {
    const floor = await startNode('dist-bench/bench/floor.main.js', {
      FLOOR_DATABASE: join(dir, `b${round}${name}.sqlite`),
      ...env,
    });
    try {
      return await runWrk(dir, on(floor.url, name));
    } finally {
      await floor.stop();
      pd.reset();
    }
  };
  try {
    return {
      bare: bareRun,
      bareFixed,
      bareIdle,
      floor: await floorRun('floor', {}),
      floorChecked: await floorRun('floorchecked', { FLOOR_CHECKS: '1' }),
      floorDelivered: await floorRun('floordelivered', {
        FLOOR_PD_URL: pd.url,
      }),
    };
  } finally {
    await pd.stop();
  }
}

function table(
  version: string,
  am: Measured,
  ours: Measured,
  ref: Reference,
): string[] {
  const rows: string[][] = [];
  const row = (
    phase: string,
    a: string,
    o: string,
    ratio: number,
    target: string,
    met: boolean,
  ) =>
    rows.push([
      phase,
      a,
      o,
      Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : 'n/a',
      target,
      met ? 'yes' : '**no**',
    ]);
  const rps = (r: WrkResult) =>
    `${fmt(r.okRps)} req/s (p99 ${fmt(r.p99Ms, 1)} ms)`;
  row(
    '1. single alert, new incident each (POST /v1/alerts vs /api/v2/alerts)',
    rps(am.single),
    rps(ours.single),
    ours.single.okRps / am.single.okRps,
    '>= 1.2x',
    ours.single.okRps >= 1.2 * am.single.okRps,
  );
  row(
    '2. the same alert repeated',
    rps(am.repeat),
    rps(ours.repeat),
    ours.repeat.okRps / am.repeat.okRps,
    '>= 1.0x',
    ours.repeat.okRps >= am.repeat.okRps,
  );
  row(
    `3. batches of 100 new alerts, ${BATCH_CONNECTIONS} connections`,
    `${fmt(am.batch.okRps * 100)} alerts/s`,
    `${fmt(ours.batch.okRps * 100)} alerts/s`,
    ours.batch.okRps / am.batch.okRps,
    '>= 3x',
    ours.batch.okRps >= 3 * am.batch.okRps,
  );
  const delivered = (m: Measured) =>
    `${fmt(m.deliveredPerS)}/s (${fmt(m.deliveredN)} in ${fmt(m.deliveredS, 1)} s; dup ${m.duplicates}, lost ${m.lost})`;
  row(
    '4. delivered to PagerDuty per second (the batch load)',
    delivered(am),
    delivered(ours),
    ours.deliveredPerS / am.deliveredPerS,
    '>= 2x, 0 dup, 0 lost',
    ours.deliveredPerS >= 2 * am.deliveredPerS &&
      ours.duplicates === 0 &&
      ours.lost === 0,
  );
  const p99 = (m: Measured) =>
    `${fmt(m.latency.p99, 1)} ms (p50 ${fmt(m.latency.p50, 1)}; ${fmt(m.latency.delivered)}/${fmt(m.latency.sent)}; history ${fmt(m.history)})`;
  row(
    `5. p99 ingest -> PagerDuty at ${PACED_PER_S} alerts/s for ${PACED_S} s, after >= ${fmt(HISTORY)} alerts`,
    p99(am),
    p99(ours),
    ours.latency.p99 / am.latency.p99,
    '<= 1.0x',
    ours.latency.p99 <= am.latency.p99 &&
      ours.latency.delivered === ours.latency.sent,
  );
  row(
    '6. RSS idle after start',
    `${fmt(am.rssIdle)} MB`,
    `${fmt(ours.rssIdle)} MB`,
    ours.rssIdle / am.rssIdle,
    `ours < ${RSS_TARGET_MB} MB`,
    ours.rssIdle < RSS_TARGET_MB,
  );
  rows.push([
    '   RSS 5 s after the loads',
    `${fmt(am.rssAfter)} MB`,
    `${fmt(ours.rssAfter)} MB`,
    `${(ours.rssAfter / am.rssAfter).toFixed(2)}x`,
    '',
    '',
  ]);
  const head = [
    'phase',
    `Alertmanager ${version}`,
    'this service',
    'ratio',
    'target',
    'met?',
  ];
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]) =>
    `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  const vsBare = (r: WrkResult) =>
    `${fmt(r.okRps)} req/s (p99 ${fmt(r.p99Ms, 1)} ms) = ${(r.okRps / ref.bare.okRps).toFixed(2)}x bare`;
  const notes: string[] = [];
  for (const [name, m] of [
    ['Alertmanager', am],
    ['this service', ours],
  ] as const) {
    for (const [phase, r] of [
      ['single', m.single],
      ['repeated', m.repeat],
      ['batches', m.batch],
    ] as const) {
      if (r.non2xx > 0 || r.socketErrors > 0)
        notes.push(
          `${name}, ${phase}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors (of ${fmt(r.requests)})`,
        );
    }
    if (m.latency.non2xx > 0)
      notes.push(`${name}, paced: ${m.latency.non2xx} non-2xx`);
    if (m.rejected > 0 || m.unmatched > 0)
      notes.push(
        `${name}: its fake PagerDuty refused ${m.rejected} event(s); ${m.unmatched} trigger(s) without a bench id`,
      );
  }
  const vsAm = (r: WrkResult, amLoad: WrkResult) =>
    `${fmt(r.okRps)} vs ${fmt(amLoad.okRps)} req/s = ${fmt(r.okRps / amLoad.okRps, 2)}x`;
  const drain = (m: Measured) =>
    m.singleDrainS === null
      ? `not all ${fmt(m.singleAccepted)} within ${CAP_MS / 1000} s`
      : `all ${fmt(m.singleAccepted)} ${fmt(m.singleDrainS, 1)} s after it`;
  return [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `phase 1's triggers at PagerDuty: Alertmanager ${drain(am)}, this service ${drain(ours)}`,
    ...notes,
    '',
    `baseline: bare NestJS+Fastify POST          ${fmt(ref.bare.okRps)} req/s (p99 ${fmt(ref.bare.p99Ms, 1)} ms), RSS idle ${fmt(ref.bareIdle)} MB`,
    `floor: bare + only the 3 inserts of a new incident, group commit (raw better-sqlite3):`,
    `  writes                                    ${vsBare(ref.floor)}`,
    `  writes + class-validator of the alert     ${vsBare(ref.floorChecked)}`,
    `  writes + trigger POSTed to PagerDuty      ${vsBare(ref.floorDelivered)}`,
    `this service, single alert                  ${vsBare(ours.single)}`,
    `this service, repeated alert                ${vsBare(ours.repeat)}`,
    '',
    `the same references against Alertmanager (what a Node service on this machine can reach at most):`,
    `  1. single: floor with the trigger POSTed  ${vsAm(ref.floorDelivered, am.single)} (target 1.2x)`,
    `  2. repeated: the bare endpoint itself     ${vsAm(ref.bareFixed, am.repeat)} (target 1.0x; same body each time)`,
  ];
}

async function main(): Promise<void> {
  const onlyRouting = process.env.BENCH_ONLY === 'routing';
  const amBinary = findAlertmanager();
  const missing = [
    ...(wrkInstalled() ? [] : ['wrk (apt-get install wrk)']),
    ...(amBinary || onlyRouting
      ? []
      : [
          'Prometheus Alertmanager (.ci/install-alertmanager, or apt-get install prometheus-alertmanager)',
        ]),
  ];
  if (missing.length > 0) {
    console.error(`bench: missing ${missing.join(' and ')}`);
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'alerting-bench-'));
  try {
    if (onlyRouting) {
      const pd = new FakePagerDuty({ keepAlive: true });
      await pd.start();
      try {
        console.log((await routingComparison(dir, pd)).join('\n'));
      } finally {
        await pd.stop();
      }
      return;
    }
    const version = alertmanagerVersion(amBinary!);
    console.log(
      [
        `bench: wrk ${WRK_THREADS} threads, ${WRK_CONNECTIONS} connections (batches ${BATCH_CONNECTIONS}), ${DURATION_S} s per load, unique alert per request (Lua);`,
        `  Alertmanager ${version}: route group_by ${AM_ROUTE.group_by}, group_wait ${AM_ROUTE.group_wait}, group_interval ${AM_ROUTE.group_interval}, repeat_interval ${AM_ROUTE.repeat_interval}, pagerduty_configs send_resolved, cluster off, in-memory alerts;`,
        `  this service: node ${SERVICE_NODE_ARGS.join(' ')} dist/main.js (as npm start), SQLite (fresh file), APP_ENV=production, API key sent, NOTIFIERS=pagerduty, throttles off, LOG_LEVEL=${process.env.BENCH_LOG_LEVEL ?? 'info'};`,
        `  each system fresh per round with its own fake PagerDuty (in the bench process); Alertmanager's phases first, then this service's;`,
        `  phase 5 starts ${SETTLE_MS / 1000} s after phase 4's last delivery; RSS idle is read 2 s after start.`,
      ].join('\n'),
    );
    for (let round = 1; round <= ROUNDS; round++) {
      const roundStart = performance.now();
      const ref = await reference(dir, round);
      const am = await measure(dir, round, (url) =>
        startAlertmanager(amBinary!, join(dir, `am-${round}`), url),
      );
      const ours = await measure(dir, round, (url) =>
        startService(join(dir, `service-${round}.sqlite`), url),
      );
      console.log(
        [
          '',
          `round ${round} of ${ROUNDS} (${fmt((performance.now() - roundStart) / 1000)} s)`,
          ...table(version, am, ours, ref),
        ].join('\n'),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
