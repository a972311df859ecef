import { readFileSync } from 'node:fs';
import { Incident } from '../src/alerting/incident.entity.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { TcpProxy } from './support/tcp-proxy.js';
import {
  createTestApp,
  pagerDutyEnv,
  type TestApp,
} from './support/test-app.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { Client } from 'pg';

const WITHIN_MS = 4000;
const STATE_CHANGE = JSON.parse(
  readFileSync(
    new URL(
      './fixtures/aws/eventbridge/state-change-single-metric-alarm.json',
      import.meta.url,
    ),
    'utf8',
  ),
) as { detail: Record<string, unknown> };

/**
 * PostgreSQL behind a proxy the test cuts: unreachable (connections refused and dropped)
 * and silent (accepted, never answered). Every request must come back within a few
 * seconds as a 503 with Retry-After, and the service must recover by itself.
 */
describe('PostgreSQL outage (e2e, PostgreSQL only)', () => {
  const pd = new FakePagerDuty();
  let db: TestDatabase;
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    db = await createTestDatabase();
    const upstream = new URL(db.url);
    proxy = await TcpProxy.start(upstream.hostname, Number(upstream.port));
    t = await createTestApp({
      db: { ...db, url: proxy.rewrite(db.url) },
      env: {
        ...pagerDutyEnv(pd),
        DATABASE_CONNECT_TIMEOUT: '1s',
        DATABASE_QUERY_TIMEOUT: '1s',
      },
    });
  });
  afterAll(async () => {
    await proxy?.open();
    await t?.close();
    await proxy?.close();
    await db?.drop();
    await pd.stop();
  });

  /** Rows as the database has them, read around the proxy. */
  async function storedKeys(): Promise<string[]> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ dedup_key: string }>(
        'SELECT dedup_key FROM incidents ORDER BY dedup_key',
      );
      return rows.map((r) => r.dedup_key);
    } finally {
      await client.end();
    }
  }

  const timed = async (
    request: PromiseLike<{ status: number; headers: any; body: any }>,
  ) => {
    const started = Date.now();
    const res = await request;
    const ms = Date.now() - started;
    return { status: res.status, headers: res.headers, body: res.body, ms };
  };

  async function expectUnavailable(label: string) {
    const answers = {
      alerts: await timed(
        t.api
          .post('/v1/alerts')
          .send({ severity: 'critical', alarmName: `${label}-lost` }),
      ),
      template: await timed(
        t.api
          .post('/v1/alerts/templates/high-latency')
          .send({ currentValue: 900, threshold: 500 }),
      ),
      eventBridge: await timed(
        t.api.post('/v1/cloudwatch/events').send({
          ...STATE_CHANGE,
          detail: { ...STATE_CHANGE.detail, alarmName: `${label}-eventbridge` },
        }),
      ),
      acknowledge: await timed(
        t.api.post('/v1/incidents/before-outage/acknowledge'),
      ),
      incidents: await timed(t.api.get('/v1/incidents')),
    };
    for (const [route, res] of Object.entries(answers)) {
      expect(res.status, `${label}: ${route}`).toBe(503);
      expect(Number(res.headers['retry-after']), route).toBeGreaterThan(0);
      expect(res.body).toMatchObject({
        statusCode: 503,
        error: 'Service Unavailable',
      });
      expect(
        res.ms,
        `${label}: ${route} answered in ${res.ms} ms`,
      ).toBeLessThan(WITHIN_MS);
    }
    const ready = await timed(t.http().get('/health/ready'));
    expect(ready.status).toBe(503);
    expect(ready.body.error.database.status).toBe('down');
    expect(ready.ms).toBeLessThan(WITHIN_MS);
  }

  async function expectRecovered(key: string) {
    // a few seconds at most: the pool reconnects on demand
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (
        await t.api
          .post('/v1/alerts')
          .send({ severity: 'critical', alarmName: key })
      ).status;
      if (status === 202) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(202);
    await t.http().get('/health/ready').expect(200);
    expect(await storedKeys()).toContain(key);
    await pd.waitFor((r) => r.some((e) => e.dedupKey === key));
  }

  it('answers 503 with Retry-After within seconds while PostgreSQL is unreachable, and recovers without a restart', async () => {
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: 'before-outage' })
      .expect(202);
    await proxy.close();
    await expectUnavailable('unreachable');
    await proxy.open();
    await expectRecovered('after-unreachable');
    await t.api.post('/v1/incidents/before-outage/acknowledge').expect(200);
    expect(await storedKeys()).not.toContain('unreachable-lost');
  });

  it('records a delivery whose answer came back while PostgreSQL was unreachable, and sends the next event of its key after it', async () => {
    const key = 'answered-during-outage';
    // PagerDuty's answer takes ~600 ms: the database goes away while it is on the way
    pd.quirkNext(1, { trickle: { everyMs: 150, chunks: 4 } });
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: key })
      .expect(202);
    await pd.waitFor((r) => r.some((e) => e.dedupKey === key));
    await proxy.close();
    // the outcome's first write fails (connect timeout 1 s) before the database is back
    await new Promise((r) => setTimeout(r, 2_500));
    await proxy.open();

    const states = async () => {
      const client = new Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{
          action: string;
          state: string;
          attempts: number;
        }>(
          'SELECT action, state, attempts FROM deliveries WHERE dedup_key = $1 ORDER BY id',
          [key],
        );
        return rows.map((r) => [r.action, r.state, r.attempts]);
      } finally {
        await client.end();
      }
    };
    await vi.waitFor(
      async () => expect(await states()).toEqual([['trigger', 'delivered', 1]]),
      { timeout: 15_000, interval: 250 },
    );
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: key, status: 'resolved' })
      .expect(202);
    await pd.waitFor((r) =>
      r.some((e) => e.dedupKey === key && e.body.event_action === 'resolve'),
    );
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'trigger',
      'resolve',
    ]);
    await vi.waitFor(
      async () =>
        expect(await states()).toEqual([
          ['trigger', 'delivered', 1],
          ['resolve', 'delivered', 1],
        ]),
      { timeout: 5_000, interval: 100 },
    );
  }, 60_000);

  it('answers 503 within seconds while PostgreSQL accepts connections and never answers, and recovers when it does', async () => {
    proxy.silence();
    await expectUnavailable('silent');
    await proxy.open();
    await expectRecovered('after-silence');
    expect(
      await t.dataSource.getRepository(Incident).count(),
    ).toBeGreaterThanOrEqual(3);
  });
});
