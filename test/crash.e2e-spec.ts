import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { ServerProcess } from './support/server-process.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { ROUTING_KEY } from './support/test-app.js';

describe('kill -9 with deliveries pending (real process)', () => {
  const pd = new FakePagerDuty();
  let dir: string;
  let db: TestDatabase;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    await pd.start();
    dir = mkdtempSync(join(tmpdir(), 'alerting-crash-'));
    db = await createTestDatabase(`sqlite:${join(dir, 'alerting.sqlite')}`);
  });
  afterAll(async () => {
    await server?.kill();
    await pd.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing: every accepted alert reaches PagerDuty after a restart on the same database', async () => {
    const env = {
      DATABASE_URL: db.url,
      APP_ENV: 'production',
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pd.url,
      PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      DELIVERY_LEASE: '2s',
    };
    server = await ServerProcess.start(env);
    // PagerDuty accepts connections and never answers: deliveries are claimed and in flight
    pd.hang(true);
    const keys: string[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const alerts = Array.from({ length: 50 }, (_, i) => ({
        severity: 'CRITICAL',
        alarmName: `crash-${batch}-${i}`,
      }));
      const res = await server.post('/v1/alerts', alerts);
      expect(res.status).toBe(202);
      keys.push(...alerts.map((a) => a.alarmName));
    }
    const resolve = await server.post('/v1/alerts', {
      severity: 'CRITICAL',
      alarmName: 'crash-0-0',
      status: 'resolved',
    });
    expect((await resolve.json()).results[0].action).toBe('resolved');
    await expect
      .poll(() => pd.requests.length, { timeout: 5_000 })
      .toBeGreaterThan(0);
    expect(pd.received).toHaveLength(0);

    await server.kill('SIGKILL');
    expect(server.signal).toBe('SIGKILL');
    pd.reset();

    await server.start();
    await pd.waitFor(
      (r) =>
        new Set(
          r
            .filter((e) => e.body.event_action === 'trigger')
            .map((e) => e.dedupKey),
        ).size === keys.length,
      30_000,
    );
    const triggers = new Set(
      pd.received
        .filter((e) => e.body.event_action === 'trigger')
        .map((e) => e.dedupKey),
    );
    expect([...triggers].sort()).toEqual([...keys].sort());
    await pd.waitFor(
      (r) =>
        r.some(
          (e) =>
            e.dedupKey === 'crash-0-0' && e.body.event_action === 'resolve',
        ),
      10_000,
    );
    const forKey = pd.eventsFor('crash-0-0').map((e) => e.body.event_action);
    expect(forKey.indexOf('trigger')).toBeLessThan(forKey.indexOf('resolve'));
    const pending = await server.get('/v1/deliveries?state=pending');
    await expect
      .poll(
        async () =>
          (await server!.get('/v1/deliveries?state=pending')).items.length,
      )
      .toBe(0);
    void pending;
  });
});
