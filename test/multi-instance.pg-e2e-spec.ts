import { Client } from 'pg';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { ServerProcess } from './support/server-process.js';
import {
  createTestApp,
  ROUTING_KEY,
  type TestApp,
} from './support/test-app.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import type { Clock } from '../src/ops/clock.js';
import { ReconcilerService } from '../src/reconciler/reconciler.service.js';
import {
  DISTRIBUTED_LOCK,
  type DistributedLock,
} from '../src/database/distributed-lock.js';
import { alertingMigrations } from '../src/database/migrations/index.js';

/** Runs `work` over `items` with at most `limit` in flight: two cores, two servers, one database. */
async function pool<T, R>(
  items: T[],
  limit: number,
  work: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i], i);
      }
    }),
  );
  return out;
}

async function sql<T = any>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const triggersByKey = (pd: FakePagerDuty) => {
  const counts = new Map<string, number>();
  for (const e of pd.received) {
    if (e.body.event_action === 'trigger')
      counts.set(e.dedupKey, (counts.get(e.dedupKey) ?? 0) + 1);
  }
  return counts;
};

// PostgreSQL only (a *.pg-e2e-spec.ts file, collected by the PostgreSQL lane alone): several
// instances share one database only there; SQLite is one process per file.
describe('Two instances on one PostgreSQL database (e2e, real processes)', () => {
  const pd = new FakePagerDuty();
  let db: TestDatabase;
  let servers: ServerProcess[] = [];

  beforeAll(async () => {
    await pd.start();
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    await pd.stop();
    await db?.drop();
  });
  beforeEach(() => pd.reset());

  it('starts two processes together on an empty database: migrations run once, under the advisory lock', async () => {
    const env = {
      DATABASE_URL: db.url,
      APP_ENV: 'production',
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pd.url,
      PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      DELIVERY_LEASE: '2s',
      DELIVERY_RETRY_BASE: '100ms',
      DISPATCH_POLL_INTERVAL: '200ms',
      RECONCILE_INTERVAL: '1h',
    };
    servers = await Promise.all([
      ServerProcess.start(env),
      ServerProcess.start(env),
    ]);
    const applied = await sql<{ name: string; n: string }>(
      db.url,
      'SELECT name, count(*) AS n FROM migrations GROUP BY name',
    );
    expect(applied).toHaveLength(alertingMigrations.length);
    expect(applied.every((m) => Number(m.n) === 1)).toBe(true);
  });

  it('takes 2 000 concurrent alerts over both: one open incident per key, one trigger per key at PagerDuty', async () => {
    const KEYS = 200;
    const alerts = Array.from({ length: 2000 }, (_, i) => ({
      severity: 'CRITICAL',
      alarmName: `mi-${(i * 7919) % KEYS}`,
      currentValue: i,
    }));
    const started = performance.now();
    const answers = await pool(alerts, 32, async (alert, i) => {
      const res = await servers[i % 2].post('/v1/alerts', alert);
      return {
        status: res.status,
        body: (await res.json()) as { results: { action: string }[] },
      };
    });
    const ingestMs = performance.now() - started;
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    const actions = answers.map((a) => a.body.results[0].action);
    expect(actions.filter((a) => a === 'triggered')).toHaveLength(KEYS);
    expect(actions.filter((a) => a === 'deduplicated')).toHaveLength(
      2000 - KEYS,
    );

    await pd.waitFor(
      (r) => r.filter((e) => e.body.event_action === 'trigger').length >= KEYS,
      30_000,
    );
    const deliveredMs = performance.now() - started;
    // late duplicates would arrive after the last first delivery
    await new Promise((r) => setTimeout(r, 1_000));
    const triggers = triggersByKey(pd);
    expect(triggers.size).toBe(KEYS);
    expect([...triggers].filter(([, n]) => n !== 1)).toEqual([]);
    expect(pd.received).toHaveLength(KEYS);

    const perKey = await sql<{
      dedup_key: string;
      open: string;
      total: string;
      seen: string;
    }>(
      db.url,
      `SELECT dedup_key, count(open_key) AS open, count(*) AS total, sum(occurrences) AS seen
       FROM incidents WHERE dedup_key LIKE 'mi-%' GROUP BY dedup_key`,
    );
    expect(perKey).toHaveLength(KEYS);
    expect(perKey.filter((k) => k.open !== '1' || k.total !== '1')).toEqual([]);
    expect(perKey.reduce((n, k) => n + Number(k.seen), 0)).toBe(2000);
    const [undelivered] = await sql(
      db.url,
      `SELECT count(*) AS n FROM deliveries WHERE state <> 'delivered'`,
    );
    expect(Number(undelivered.n)).toBe(0);
    console.info(
      `2000 alerts over 2 instances: accepted in ${Math.round(ingestMs)} ms, ${KEYS} triggers delivered after ${Math.round(deliveredMs)} ms`,
    );
  });

  it('delivers, after the lease runs out, what a SIGKILLed instance had claimed: nothing lost', async () => {
    const [victim, survivor] = servers;
    pd.hang(true);
    const alerts = Array.from({ length: 20 }, (_, i) => ({
      severity: 'CRITICAL',
      alarmName: `kill-${i}`,
    }));
    // One claim takes all 20 rows, so whichever instance claims first holds them all. The
    // survivor is stopped meanwhile: on a loaded machine its 200 ms poll could otherwise
    // win the race and leave the victim nothing to lose.
    process.kill(survivor.pid!, 'SIGSTOP');
    let leased: { n: string }[];
    let claimedAt: number;
    try {
      expect((await victim.post('/v1/alerts', alerts)).status).toBe(202);
      await expect
        .poll(() => pd.requests.length, { timeout: 5_000, interval: 20 })
        .toBe(alerts.length);
      claimedAt = performance.now();
      leased = await sql(
        db.url,
        `SELECT count(*) AS n FROM deliveries WHERE dedup_key LIKE 'kill-%' AND state = 'pending' AND lease_owner IS NOT NULL`,
      );
      await victim.kill('SIGKILL');
    } finally {
      process.kill(survivor.pid!, 'SIGCONT');
    }
    expect(Number(leased[0].n)).toBe(alerts.length);
    expect(victim.signal).toBe('SIGKILL');
    // drops the hung requests; from now on PagerDuty answers
    pd.reset();

    await pd.waitFor(
      (r) =>
        r.filter((e) => e.dedupKey.startsWith('kill-')).length >= alerts.length,
      30_000,
    );
    await expect
      .poll(
        async () =>
          (
            await sql(
              db.url,
              `SELECT count(*) AS n FROM deliveries WHERE dedup_key LIKE 'kill-%' AND state = 'delivered'`,
            )
          )[0].n,
        { timeout: 5_000, interval: 50 },
      )
      .toBe(String(alerts.length));
    await new Promise((r) => setTimeout(r, 500));
    // Every row was the victim's: each is sent once, by the survivor, after its lease ran
    // out (the victim's own sends hung and recorded nothing).
    const attempts = new Map(
      (
        await sql(
          db.url,
          `SELECT dedup_key, attempts FROM deliveries WHERE dedup_key LIKE 'kill-%'`,
        )
      ).map((r) => [r.dedup_key as string, Number(r.attempts)]),
    );
    const victims = new Set(
      [...attempts].filter(([, n]) => n === 1).map(([key]) => key),
    );
    expect(victims.size).toBe(alerts.length);
    // not before the 2 s lease expired (minus the time it took to see the requests arrive)
    expect(
      Math.min(
        ...pd.received
          .filter((e) => victims.has(e.dedupKey))
          .map((e) => e.receivedAt),
      ) - claimedAt,
    ).toBeGreaterThanOrEqual(1_500);
    const triggers = triggersByKey(pd);
    expect(alerts.map((a) => triggers.get(a.alarmName))).toEqual(
      alerts.map(() => 1),
    );
    const rows = await sql(
      db.url,
      `SELECT state, count(*) AS n FROM deliveries WHERE dedup_key LIKE 'kill-%' GROUP BY state`,
    );
    expect(rows.map((r) => [r.state, Number(r.n)])).toEqual([
      ['delivered', alerts.length],
    ]);
    expect((await survivor.get('/v1/incidents?limit=1')).items).toHaveLength(1);
  });
});

class ManualClock implements Clock {
  constructor(private t: number) {}
  now() {
    return new Date(this.t);
  }
  advance(ms: number) {
    this.t += ms;
  }
}

describe('Two reconcilers on one PostgreSQL database (e2e)', () => {
  const pd = new FakePagerDuty();
  const clock = new ManualClock(Date.parse('2030-06-01T00:00:00.000Z'));
  let db: TestDatabase;
  let apps: TestApp[] = [];

  beforeAll(async () => {
    await pd.start();
    db = await createTestDatabase();
    const env = {
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pd.url,
      PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      INCIDENT_RESOLVE_TIMEOUT: '10m',
      RECONCILE_INTERVAL: '1h',
    };
    // one after the other: the second finds the migrations done
    apps.push(await createTestApp({ db, clock, env }));
    apps.push(await createTestApp({ db, clock, env }));
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await pd.stop();
    await db?.drop();
  });

  const fireBatch = async (prefix: string, n: number) => {
    const keys = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    await apps[0].api
      .post('/v1/alerts')
      .send(keys.map((alarmName) => ({ severity: 'warning', alarmName })))
      .expect(202);
    return keys;
  };

  it('holds pg_try_advisory_xact_lock across instances: a second holder is turned away', async () => {
    const [a, b] = apps.map((t) =>
      t.app.get<DistributedLock>(DISTRIBUTED_LOCK),
    );
    const inner = await a.tryWithLock('reconciler', () =>
      b.tryWithLock('reconciler', async () => 'both'),
    );
    expect(inner).toEqual({ acquired: true, value: { acquired: false } });
    await expect(
      b.tryWithLock('reconciler', async () => 'free again'),
    ).resolves.toEqual({
      acquired: true,
      value: 'free again',
    });
  });

  it('resolves each stale incident once when both tick at once, and when their unlocked passes overlap', async () => {
    const [r1, r2] = apps.map((t) => t.app.get(ReconcilerService));
    const locked = await fireBatch('rc-locked', 100);
    clock.advance(11 * 60_000);
    const ticks = await Promise.all([r1.tick(), r2.tick()]);
    expect(ticks[0].stale + ticks[1].stale).toBe(locked.length);

    const unlocked = await fireBatch('rc-unlocked', 100);
    clock.advance(11 * 60_000);
    // without the lock, only the conditional close stands between them and a double resolve
    const passes = await Promise.all([
      r1.reconcile(),
      r2.reconcile(),
      r1.reconcile(),
      r2.reconcile(),
    ]);
    expect(passes.reduce((n, r) => n + r.stale, 0)).toBe(unlocked.length);

    const keys = [...locked, ...unlocked];
    const rows = await sql<{
      dedup_key: string;
      status: string;
      resolved: string;
      outbox: string;
    }>(
      db.url,
      `SELECT i.dedup_key, i.status,
         (SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id AND e.type = 'resolved') AS resolved,
         (SELECT count(*) FROM deliveries d WHERE d.incident_id = i.id AND d.action = 'resolve') AS outbox
       FROM incidents i WHERE i.dedup_key LIKE 'rc-%'`,
    );
    expect(rows).toHaveLength(keys.length);
    expect(
      rows.filter(
        (r) =>
          r.status !== 'resolved' || r.resolved !== '1' || r.outbox !== '1',
      ),
    ).toEqual([]);

    await pd.waitFor(
      (r) =>
        r.filter((e) => e.body.event_action === 'resolve').length >=
        keys.length,
      20_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const resolves = pd.received
      .filter((e) => e.body.event_action === 'resolve')
      .map((e) => e.dedupKey);
    expect(resolves).toHaveLength(keys.length);
    expect(new Set(resolves).size).toBe(keys.length);
  });
});
