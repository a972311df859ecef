import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { ServerProcess } from './support/server-process.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { ROUTING_KEY, TEST_API_KEY } from './support/test-app.js';

const NEW_ROUTING_KEY = 'fedcba9876543210fedcba9876543210';
const SECOND_API_KEY = 'second-secret-api-key-42';

describe('Logs never carry secrets (real process, LOG_LEVEL=debug; build first)', () => {
  const pd = new FakePagerDuty();
  let db: TestDatabase;
  let server: ServerProcess;

  beforeAll(async () => {
    await pd.start();
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await server?.kill();
    await pd.stop();
    await db?.drop();
  });

  it('logs boot config, requests, a routing key change and a PagerDuty 400 without any key', async () => {
    server = await ServerProcess.start({
      DATABASE_URL: db.dialect === 'postgres' ? db.url : 'sqlite::memory:',
      LOG_LEVEL: 'debug',
      APP_ENV: 'staging',
      NOTIFIERS: 'pagerduty,log',
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pd.url,
      PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      API_KEYS: `${TEST_API_KEY},${SECOND_API_KEY}`,
      DELIVERY_RETRY_BASE: '50ms',
    });
    const json = { 'content-type': 'application/json' };

    expect(
      (
        await server.post('/v1/alerts', {
          severity: 'critical',
          alarmName: 'first',
          metricName: 'M',
        })
      ).status,
    ).toBe(202);
    await pd.waitFor((r) => r.length === 1);
    expect(pd.received[0].body.routing_key).toBe(ROUTING_KEY);

    const patch = await fetch(`${server.url}/v1/config/pagerduty`, {
      method: 'PATCH',
      headers: { ...json, authorization: `Bearer ${SECOND_API_KEY}` },
      body: JSON.stringify({ routingKey: NEW_ROUTING_KEY }),
    });
    expect(patch.status).toBe(200);
    expect((await patch.json()).routingKey).toBe(
      `****${NEW_ROUTING_KEY.slice(-4)}`,
    );
    // A wrong key and a malformed routing key must not be echoed into the log either.
    await fetch(`${server.url}/v1/incidents`, {
      headers: { 'x-api-key': `${SECOND_API_KEY}-wrong` },
    });
    const bad = await fetch(`${server.url}/v1/config/pagerduty`, {
      method: 'PATCH',
      headers: { ...json, 'x-api-key': TEST_API_KEY },
      body: JSON.stringify({ routingKey: `${NEW_ROUTING_KEY}!` }),
    });
    expect(bad.status).toBe(400);

    pd.failNext(1, 400, {
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ['bad'],
    });
    expect(
      (
        await server.post('/v1/alerts', {
          severity: 'error',
          alarmName: 'second',
        })
      ).status,
    ).toBe(202);
    const deadline = Date.now() + 10_000;
    let dead: any[] = [];
    while (Date.now() < deadline) {
      dead = (await server.get('/v1/deliveries?state=dead')).items;
      if (dead.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(dead).toHaveLength(1);
    expect(pd.requests.at(-1)!.rawBody).toContain(NEW_ROUTING_KEY);

    await server.kill('SIGTERM');
    expect(server.exitCode).toBe(0);

    const output = server.output.join('');
    const lines = output.split('\n').filter((l) => l.startsWith('{'));
    const records = lines.map((l) => JSON.parse(l));
    expect(records.some((r) => r.msg === 'configuration')).toBe(true);
    expect(records.some((r) => /PagerDuty settings changed/.test(r.msg))).toBe(
      true,
    );
    expect(records.some((r) => r.level >= 40 && /is dead/.test(r.msg))).toBe(
      true,
    );
    const requestLines = records.filter((r) => r.msg === 'request completed');
    expect(requestLines.length).toBeGreaterThanOrEqual(6);
    for (const r of requestLines) expect(r.req.id).toEqual(expect.any(String));

    for (const secret of [
      ROUTING_KEY,
      NEW_ROUTING_KEY,
      TEST_API_KEY,
      SECOND_API_KEY,
    ]) {
      expect(
        output.includes(secret),
        `log output contains ${secret.slice(0, 6)}…`,
      ).toBe(false);
    }
  });
});
