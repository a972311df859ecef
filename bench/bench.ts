// npm run bench: this service side by side with a real Prometheus Alertmanager, each
// paging its own local fake PagerDuty, both loaded by wrk in the same run; then a bare
// NestJS+Fastify endpoint and the floor as reference lines. Prints figures; asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FakePagerDuty } from '../src/testing/fake-pagerduty.js';
import { Deliveries, paced, sendBatches } from './deliveries.js';
import { routingComparison } from './routing.js';
import {
  AM_ROUTE,
  API_KEY,
  SERVICE_NODE_ARGS,
  alertmanagerVersion,
  cpuSeconds,
  findAlertmanager,
  machineBusySeconds,
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
const cores = availableParallelism();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : 'n/a';

/** What a load cost: the system's own CPU, and the whole machine's (wrk and the fakes too). */
interface CpuUse {
  /** the system's CPU seconds per second of load: 1 is one core kept busy */
  cores: number;
  machineCores: number;
  /** the system's CPU time per request answered */
  usPerRequest: number;
}

interface Measured {
  single: WrkResult;
  repeat: WrkResult;
  batch: WrkResult;
  cpu: { single: CpuUse; repeat: CpuUse; batch: CpuUse };
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

/**
 * One fresh system with its own fake PagerDuty, taken through the phases one at a time:
 * the round runs each phase on Alertmanager, then at once on this service, so the two
 * figures of a phase are seconds apart, not minutes (the host's speed drifts).
 */
class Subject {
  private readonly tag: (phase: string) => string;
  private readonly m: Partial<Measured> = {};
  private readonly cpu: Partial<Measured['cpu']> = {};

  private constructor(
    private readonly system: System,
    private readonly pd: FakePagerDuty,
    private readonly deliveries: Deliveries,
    private readonly dir: string,
    round: number,
  ) {
    this.tag = (phase) => `b${round}${phase}`;
  }

  static async start(
    dir: string,
    round: number,
    start: (pagerDutyUrl: string) => Promise<System>,
  ): Promise<Subject> {
    const pd = new FakePagerDuty({ keepAlive: true });
    await pd.start();
    try {
      return new Subject(
        await start(pd.url),
        pd,
        new Deliveries(pd),
        dir,
        round,
      );
    } catch (error) {
      await pd.stop();
      throw error;
    }
  }

  private step(what: string): void {
    this.system.check();
    progress(`${this.system.name}: ${what}`);
  }

  private load(prefix: string, extra: Partial<WrkLoad>): WrkLoad {
    return load(this.system, prefix, extra);
  }

  /** wrk's load, and the CPU the system and the machine spent while it ran */
  private async loaded(
    phase: keyof Measured['cpu'],
    wrk: WrkLoad,
  ): Promise<WrkResult> {
    const cpu0 = cpuSeconds(this.system.pid);
    const machine0 = machineBusySeconds();
    const wall0 = performance.now();
    const result = await runWrk(this.dir, wrk);
    const wallS = (performance.now() - wall0) / 1000;
    const used = cpuSeconds(this.system.pid) - cpu0;
    this.cpu[phase] = {
      cores: used / wallS,
      machineCores: (machineBusySeconds() - machine0) / wallS,
      usPerRequest: result.requests > 0 ? (used * 1e6) / result.requests : NaN,
    };
    return result;
  }

  idle(): void {
    this.m.rssIdle = rssMb(this.system.pid);
  }

  /**
   * 1. a new alert per request; its deliveries drain before the next phase so one
   * phase's backlog is not measured as the next one's slowness
   */
  async single(): Promise<void> {
    this.step('1. single alerts');
    this.m.single = await this.loaded(
      'single',
      this.load(this.tag('single'), {}),
    );
    const drainFrom = performance.now();
    this.m.singleAccepted = await this.system.accepted(this.tag('single'));
    const drained = await this.deliveries.waitFor(
      this.tag('single'),
      this.m.singleAccepted,
      CAP_MS,
    );
    this.m.singleDrainS =
      drained === null ? null : Math.max(0, drained - drainFrom) / 1000;
  }

  /** 2. the same alert again and again: one incident, one trigger */
  async repeated(): Promise<void> {
    this.step('2. the same alert repeated');
    this.m.repeat = await this.loaded(
      'repeat',
      this.load(`${this.tag('repeat')}-0`, { fixed: true }),
    );
    await this.deliveries.waitFor(this.tag('repeat'), 1, 10_000);
  }

  /** 3 and 4. batches of new alerts; then how fast all of them reached PagerDuty */
  async batches(): Promise<void> {
    this.step('3. batches, 4. their delivery');
    const loadStart = performance.now();
    this.m.batch = await this.loaded(
      'batch',
      this.load(this.tag('batch'), {
        perRequest: 100,
        array: true,
        connections: BATCH_CONNECTIONS,
      }),
    );
    const accepted = await this.system.accepted(this.tag('batch'));
    const last = await this.deliveries.waitFor(
      this.tag('batch'),
      accepted,
      CAP_MS,
    );
    this.m.deliveredN = this.deliveries.triggered(this.tag('batch'));
    this.m.deliveredS = ((last ?? performance.now()) - loadStart) / 1000;
    this.m.deliveredPerS = this.m.deliveredN / this.m.deliveredS;
    this.m.lost = Math.max(0, accepted - this.m.deliveredN);
    this.m.history = this.m.singleAccepted! + 1 + accepted;
  }

  /** 5. latency with a history behind it */
  async paced(): Promise<void> {
    let history = this.m.history!;
    if (history < HISTORY) {
      this.step(`topping the history up to ${HISTORY}`);
      await sendBatches(this.system, this.tag('topup'), HISTORY - history);
      const topped = await this.system.accepted(this.tag('topup'));
      await this.deliveries.waitFor(this.tag('topup'), topped, CAP_MS);
      history += topped;
    }
    this.m.history = history;
    // latency at rest, not the tail of the backlog just drained (its last outcome writes,
    // the GC of its garbage): both systems get the same pause
    await sleep(SETTLE_MS);
    this.step('5. paced latency');
    this.m.latency = await paced(
      this.system,
      this.deliveries,
      this.tag('paced'),
      PACED_PER_S,
      PACED_S,
      CAP_MS,
    );
  }

  /** 6. memory once the loads are over */
  after(): Measured {
    this.system.check();
    this.m.rssAfter = rssMb(this.system.pid);
    this.deliveries.absorb();
    return {
      ...(this.m as Measured),
      cpu: this.cpu as Measured['cpu'],
      duplicates: this.deliveries.duplicates,
      rejected: this.deliveries.rejected,
      unmatched: this.deliveries.unmatched,
    };
  }

  async stop(): Promise<void> {
    try {
      await this.system.stop();
    } finally {
      await this.pd.stop();
    }
  }
}

/** Both systems through the phases side by side, Alertmanager first in each. */
async function measureBoth(
  dir: string,
  round: number,
  amBinary: string,
): Promise<{ am: Measured; ours: Measured }> {
  const am = await Subject.start(dir, round, (url) =>
    startAlertmanager(amBinary, join(dir, `am-${round}`), url),
  );
  let ours: Subject | undefined;
  try {
    await sleep(2000);
    am.idle();
    ours = await Subject.start(dir, round, (url) =>
      startService(join(dir, `service-${round}.sqlite`), url),
    );
    await sleep(2000);
    ours.idle();
    const both = [am, ours];
    for (const phase of ['single', 'repeated', 'batches', 'paced'] as const)
      for (const subject of both) await subject[phase]();
    progress('6. RSS after the loads');
    await sleep(5000);
    return { am: am.after(), ours: ours.after() };
  } finally {
    await ours?.stop();
    await am.stop();
  }
}

interface Reference {
  bare: WrkResult;
  /** the bare endpoint with one body repeated: the ceiling for phase 2 */
  bareFixed: WrkResult;
  floor: WrkResult;
  floorChecked: WrkResult;
  floorDelivered: WrkResult;
  /** everything a new alert must cost here, each part as cheap as it can be (FLOOR_FULL) */
  floorFull: WrkResult;
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
  const floorRun = async (
    name: string,
    env: Record<string, string>,
    headers: Record<string, string> = {},
  ) => {
    const floor = await startNode('dist-bench/bench/floor.main.js', {
      FLOOR_DATABASE: join(dir, `b${round}${name}.sqlite`),
      ...env,
    });
    try {
      const load = on(floor.url, name);
      return await runWrk(dir, {
        ...load,
        headers: { ...load.headers, ...headers },
      });
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
      floorFull: await floorRun(
        'floorfull',
        { FLOOR_FULL: '1', FLOOR_PD_URL: pd.url, FLOOR_API_KEY: API_KEY },
        { 'X-API-Key': API_KEY },
      ),
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
  const cpu = (m: Measured, phase: keyof Measured['cpu'], per: string) =>
    `${fmt(m.cpu[phase].cores, 2)} cores, ${fmt(m.cpu[phase].usPerRequest)} us/${per} (machine ${fmt(m.cpu[phase].machineCores, 2)} of ${cores})`;
  const cpuLine = (
    label: string,
    phase: keyof Measured['cpu'],
    per = 'request',
  ) =>
    `  ${label.padEnd(11)} Alertmanager ${cpu(am, phase, per)}; this service ${cpu(ours, phase, per)}`;
  return [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `phase 1's triggers at PagerDuty: Alertmanager ${drain(am)}, this service ${drain(ours)}`,
    ...notes,
    '',
    `CPU while wrk ran (process CPU time / wall time; us per request answered):`,
    cpuLine('1. single', 'single'),
    cpuLine('2. repeated', 'repeat'),
    cpuLine('3. batches', 'batch', 'batch of 100'),
    '',
    `baseline: bare NestJS+Fastify POST          ${fmt(ref.bare.okRps)} req/s (p99 ${fmt(ref.bare.p99Ms, 1)} ms), RSS idle ${fmt(ref.bareIdle)} MB`,
    `floor: bare + only the 3 inserts of a new incident, group commit (raw better-sqlite3):`,
    `  writes                                    ${vsBare(ref.floor)}`,
    `  writes + class-validator of the alert     ${vsBare(ref.floorChecked)}`,
    `  writes + trigger POSTed to PagerDuty      ${vsBare(ref.floorDelivered)}`,
    `  all a new alert must cost (API key, the service's validation, log line, writes, trigger, outcome committed):`,
    `                                            ${vsBare(ref.floorFull)}`,
    `this service, single alert                  ${vsBare(ours.single)}`,
    `this service, repeated alert                ${vsBare(ours.repeat)}`,
    '',
    `the same references against Alertmanager (what a Node service on this machine can reach at most):`,
    `  1. single: floor with the trigger POSTed  ${vsAm(ref.floorDelivered, am.single)} (target 1.2x)`,
    `  1. single: all a new alert must cost      ${vsAm(ref.floorFull, am.single)} (target 1.2x)`,
    `  2. repeated: the bare endpoint itself     ${vsAm(ref.bareFixed, am.repeat)} (target 1.0x; same body each time)`,
    `this service's single alerts against the full floor: ${fmt(ours.single.okRps / ref.floorFull.okRps, 2)}x`,
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
        `  both systems fresh per round, each with its own fake PagerDuty (in the bench process), running side by side: each phase on Alertmanager, then at once on this service;`,
        `  phase 5 starts at least ${SETTLE_MS / 1000} s after phase 4's last delivery; RSS idle is read 2 s after start.`,
      ].join('\n'),
    );
    for (let round = 1; round <= ROUNDS; round++) {
      const roundStart = performance.now();
      const ref = await reference(dir, round);
      const { am, ours } = await measureBoth(dir, round, amBinary!);
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
