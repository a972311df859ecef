import { readFileSync } from 'node:fs';
import { runCli } from '../src/cli/main.js';
import {
  ConfigValidationError,
  loadAlertingConfig,
  maskSecret,
} from '../src/config/alerting.config.js';
import { maskedConfig } from '../src/cli/check-config.command.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { Delivery } from '../src/notifier/delivery.entity.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  pagerDutyEnv,
  TEST_API_KEY,
  type TestApp,
} from './support/test-app.js';

const fixture = (path: string) =>
  JSON.parse(
    readFileSync(new URL(`./fixtures/${path}`, import.meta.url), 'utf8'),
  ) as Record<string, any>;
const FIRING = fixture('alertmanager/webhook-firing.json');
const OTHER_EVENT = fixture(
  'aws/eventbridge/config-change-update-metric-alarm.json',
);

/** The fixture group under a fingerprint of its own: one incident per call. */
const group = (fingerprint: string) => ({
  ...FIRING,
  alerts: FIRING.alerts.map((a: Record<string, unknown>) => ({
    ...a,
    fingerprint,
  })),
});
const alert = (alarmName: string) => ({ severity: 'critical', alarmName });

describe('Rate limits never refuse an alert with a status its sender does not retry (e2e)', () => {
  describe('ingestion has a budget of its own', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({
        env: { RATE_LIMIT_PER_MINUTE: '2', INGEST_RATE_LIMIT_PER_MINUTE: '3' },
      });
    });
    afterAll(() => t?.close());

    it('sheds a webhook past the ingest limit with 503 and Retry-After, an API client with 429, and leaves the API budget alone', async () => {
      for (let i = 0; i < 3; i++)
        await t.api
          .post('/v1/alertmanager')
          .send(group(`shed-${i}`))
          .expect(202);
      const shed = await t.api.post('/v1/alertmanager').send(group('shed-3'));
      expect(shed.status).toBe(503);
      expect(Number(shed.headers['retry-after'])).toBeGreaterThan(0);
      expect(shed.body).toMatchObject({
        statusCode: 503,
        error: 'Service Unavailable',
        message: expect.stringContaining('3 requests per minute'),
      });

      for (let i = 0; i < 3; i++)
        await t.api.post('/v1/cloudwatch/events').send(OTHER_EVENT).expect(202);
      const eventBridge = await t.api
        .post('/v1/cloudwatch/events')
        .send(OTHER_EVENT);
      expect(eventBridge.status).toBe(503);
      expect(Number(eventBridge.headers['retry-after'])).toBeGreaterThan(0);

      // SNS is shed before its signature is even looked at
      for (let i = 0; i < 3; i++) {
        const refused = await t
          .http()
          .post('/v1/sns')
          .set('content-type', 'text/plain')
          .send('{}');
        expect(refused.status).toBeGreaterThanOrEqual(400);
        expect(refused.status).toBeLessThan(500);
      }
      const sns = await t
        .http()
        .post('/v1/sns')
        .set('content-type', 'text/plain')
        .send('{}');
      expect(sns.status).toBe(503);
      expect(Number(sns.headers['retry-after'])).toBeGreaterThan(0);

      for (let i = 0; i < 3; i++)
        await t.api
          .post('/v1/alerts')
          .send(alert(`api-${i}`))
          .expect(202);
      const api = await t.api.post('/v1/alerts').send(alert('api-3'));
      expect(api.status).toBe(429);
      expect(Number(api.headers['retry-after'])).toBeGreaterThan(0);

      // 9 ingested requests did not touch the API's budget of 2
      await t.api.get('/v1/incidents').expect(200);
      await t.api.get('/v1/incidents').expect(200);
      await t.api.get('/v1/incidents').expect(429);

      const stored = await t.dataSource.getRepository(Incident).find();
      expect(stored.map((i) => i.dedupKey).sort()).toEqual(
        [
          'alertmanager-shed-0',
          'alertmanager-shed-1',
          'alertmanager-shed-2',
          'api-0',
          'api-1',
          'api-2',
        ].sort(),
      );
    });
  });

  describe('by default', () => {
    const pd = new FakePagerDuty();
    let t: TestApp;
    beforeAll(async () => {
      await pd.start();
      t = await createTestApp({
        env: { ...pagerDutyEnv(pd), RATE_LIMIT_PER_MINUTE: '5' },
      });
    });
    afterAll(async () => {
      await t?.close();
      await pd.stop();
    });

    it('takes far more webhooks than the API limit, and pages every group', async () => {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          t.api.post('/v1/alertmanager').send(group(`burst-${i}`)),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(202));
      expect(await t.dataSource.getRepository(Incident).count()).toBe(40);
      await pd.waitFor((r) => r.length === 40, 15_000);
      expect(new Set(pd.received.map((e) => e.dedupKey)).size).toBe(40);
    });
  });
});

describe('API key guessing (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      env: {
        AUTH_FAILURES_PER_MINUTE: '5',
        TRUST_PROXY: '127.0.0.1',
        RATE_LIMIT_PER_MINUTE: '0',
      },
    });
  });
  afterAll(() => t?.close());

  const from = (address: string, key: string) => ({
    'x-forwarded-for': address,
    authorization: `Bearer ${key}`,
  });

  it('locks an address out after repeated invalid keys: 429 even with the right key, 503 for a webhook; other addresses unaffected', async () => {
    const guesser = '203.0.113.7';
    for (let i = 0; i < 5; i++)
      await t
        .http()
        .get('/v1/incidents')
        .set(from(guesser, `guess-${i}-0000000000000`))
        .expect(401);
    const locked = await t
      .http()
      .get('/v1/incidents')
      .set(from(guesser, 'guess-5-0000000000000'));
    expect(locked.status).toBe(429);
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(locked.body).toMatchObject({
      statusCode: 429,
      message: expect.stringContaining('failed API key checks'),
    });
    // the right key from that address waits too: otherwise the lockout would confirm a guess
    await t
      .http()
      .get('/v1/incidents')
      .set(from(guesser, TEST_API_KEY))
      .expect(429);
    // a webhook behind that address is told to retry, not to give up
    const webhook = await t
      .http()
      .post('/v1/alertmanager')
      .set(from(guesser, TEST_API_KEY))
      .send(group('locked-out'));
    expect(webhook.status).toBe(503);
    expect(Number(webhook.headers['retry-after'])).toBeGreaterThan(0);
    expect(await t.dataSource.getRepository(Incident).count()).toBe(0);

    // another address, and the same address without the proxy's word for it, go on
    await t
      .http()
      .get('/v1/incidents')
      .set(from('198.51.100.1', TEST_API_KEY))
      .expect(200);
    await t
      .http()
      .get('/v1/incidents')
      .set(from('198.51.100.1', 'wrong-key-000000000000'))
      .expect(401);
    // a missing key is a misconfiguration, not a guess: not counted
    for (let i = 0; i < 8; i++)
      await t
        .http()
        .get('/v1/incidents')
        .set('x-forwarded-for', '198.51.100.2')
        .expect(401);
    await t
      .http()
      .get('/v1/incidents')
      .set(from('198.51.100.2', TEST_API_KEY))
      .expect(200);
  });

  it('counts an IPv6 client by its /64, so rotating addresses does not reset the count', async () => {
    for (let i = 0; i < 5; i++)
      await t
        .http()
        .get('/v1/incidents')
        .set(from(`2001:db8:0:1::${i + 1}`, `guess-${i}-0000000000000`))
        .expect(401);
    await t
      .http()
      .get('/v1/incidents')
      .set(from('2001:db8:0:1::99', TEST_API_KEY))
      .expect(429);
    await t
      .http()
      .get('/v1/incidents')
      .set(from('2001:db8:0:2::1', TEST_API_KEY))
      .expect(200);
  });
});

describe('API_KEYS at boot and masking', () => {
  const production = {
    APP_ENV: 'production',
    NOTIFIERS: 'log',
  };

  it('refuses a key shorter than 16 characters, without showing any of it', () => {
    let error: unknown;
    try {
      loadAlertingConfig({
        ...production,
        API_KEYS: 'long-enough-key-0001,k1,short-key-15ch',
        PORT: 'eighty',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const problems = (error as ConfigValidationError).problems;
    const apiKeys = problems.filter((p) => p.startsWith('API_KEYS:'));
    expect(apiKeys).toEqual([
      'API_KEYS: every key needs at least 16 characters; 2 of 3 are shorter',
    ]);
    expect(problems.some((p) => p.startsWith('PORT:'))).toBe(true);
    const message = (error as Error).message;
    expect(message).not.toContain('k1');
    expect(message).not.toContain('5ch');
    expect(() =>
      loadAlertingConfig({ ...production, API_KEYS: 'exactly-16-chars' }),
    ).not.toThrow();
  });

  it('shows a secret shorter than 16 characters as **** alone', async () => {
    expect(maskSecret('k1')).toBe('****');
    expect(maskSecret('fifteen-chars-x')).toBe('****');
    expect(maskSecret('sixteen-chars-xy')).toBe('****s-xy');
    const config = loadAlertingConfig({
      ...production,
      API_KEYS: 'long-enough-key-0001',
    });
    expect(
      maskedConfig({ ...config, apiKeys: ['k1', 'long-enough-key-0001'] })
        .apiKeys,
    ).toEqual(['****', '****0001']);

    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['check-config', '--json'],
      { ...production, API_KEYS: 'k1' },
      { out: (l) => out.push(l), err: (l) => err.push(l) },
    );
    expect(code).toBe(1);
    expect(err.join('\n')).toContain('API_KEYS: every key needs at least 16');
    expect([...out, ...err].join('\n')).not.toMatch(/k1/);
  });

  it('validates the new limits and timeouts at boot, in one message', () => {
    let error: unknown;
    try {
      loadAlertingConfig({
        INGEST_RATE_LIMIT_PER_MINUTE: '-1',
        AUTH_FAILURES_PER_MINUTE: 'many',
        DATABASE_CONNECT_TIMEOUT: '0',
        DATABASE_QUERY_TIMEOUT: 'soon',
        TRUST_PROXY: '10.0.0.0/99',
      });
    } catch (e) {
      error = e;
    }
    const problems = (error as ConfigValidationError).problems.map(
      (p) => p.split(':')[0],
    );
    expect(problems.sort()).toEqual(
      [
        'AUTH_FAILURES_PER_MINUTE',
        'DATABASE_CONNECT_TIMEOUT',
        'DATABASE_QUERY_TIMEOUT',
        'INGEST_RATE_LIMIT_PER_MINUTE',
        'TRUST_PROXY',
      ].sort(),
    );
    const config = loadAlertingConfig({
      TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
    });
    expect(config.trustProxy).toBe('10.0.0.0/8,127.0.0.1');
    expect(config.ingestRateLimitPerMinute).toBe(60_000);
    expect(config.authFailuresPerMinute).toBe(20);
    expect(config.database).toEqual({
      connectTimeoutMs: 5000,
      queryTimeoutMs: 5000,
    });
  });
});

describe('Listing parameters are read strictly (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;
  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({ env: pagerDutyEnv(pd) });
    await t.api
      .post('/v1/alerts')
      .send([alert('list-a'), alert('list-b'), alert('list-c')])
      .expect(202);
    await pd.waitFor((r) => r.length === 3);
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });

  const cursorOf = (value: unknown) =>
    Buffer.from(JSON.stringify(value)).toString('base64url');
  const expect400 = async (path: string, parameter: string, post = false) => {
    const res = await (post ? t.api.post(path) : t.api.get(path));
    expect(res.status, path).toBe(400);
    expect(res.body.statusCode).toBe(400);
    expect(JSON.stringify(res.body.message), path).toContain(parameter);
  };

  it.each([
    ['/v1/incidents?status=triggered&status=resolved', 'status'],
    ['/v1/incidents?limit=0x10', 'limit'],
    ['/v1/incidents?limit=1e2', 'limit'],
    ['/v1/incidents?limit=%2010', 'limit'],
    ['/v1/incidents?limit=5&limit=6', 'limit'],
    ['/v1/incidents?cursor=a&cursor=b', 'cursor'],
    [`/v1/incidents?cursor=${cursorOf(['not a date', 'x'])}`, 'cursor'],
    [
      `/v1/incidents?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', { id: 1 }])}`,
      'cursor',
    ],
    [`/v1/incidents?cursor=${cursorOf([1, 2])}`, 'cursor'],
    [`/v1/incidents?cursor=${cursorOf({})}`, 'cursor'],
    ['/v1/incidents?cursor=%E2%9C%93', 'cursor'],
    ['/v1/deliveries?state=pending&state=dead', 'state'],
    ['/v1/deliveries?limit=0x10', 'limit'],
    [
      `/v1/deliveries?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', 'abc'])}`,
      'cursor',
    ],
    [
      `/v1/deliveries?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', 1e300])}`,
      'cursor',
    ],
    [
      `/v1/deliveries?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', -4])}`,
      'cursor',
    ],
  ])('GET %s is a 400 naming %s', async (path, parameter) => {
    await expect400(path, parameter);
  });

  it.each([
    '/v1/deliveries/0x1/retry',
    '/v1/deliveries/1e0/retry',
    '/v1/deliveries/-1/retry',
    '/v1/deliveries/99999999999999999999/retry',
    '/v1/deliveries/abc/retry',
  ])('POST %s is a 400 naming id and changes nothing', async (path) => {
    const before = await t.dataSource
      .getRepository(Delivery)
      .find({ order: { id: 'ASC' } });
    await expect400(path, 'id', true);
    expect(
      await t.dataSource.getRepository(Delivery).find({ order: { id: 'ASC' } }),
    ).toEqual(before);
  });

  it('still pages with the cursors it hands out, and takes a decimal limit and id', async () => {
    const first = await t.api.get('/v1/incidents?limit=2').expect(200);
    expect(first.body.items).toHaveLength(2);
    const second = await t.api
      .get(`/v1/incidents?limit=2&cursor=${first.body.nextCursor}`)
      .expect(200);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();

    const d1 = await t.api.get('/v1/deliveries?limit=2').expect(200);
    const d2 = await t.api
      .get(`/v1/deliveries?limit=2&cursor=${d1.body.nextCursor}`)
      .expect(200);
    expect(
      [...d1.body.items, ...d2.body.items].map((d: { id: string }) => d.id),
    ).toHaveLength(3);
    const id = d1.body.items[0].id;
    // delivered, not dead: the id was read and the delivery found
    await t.api.post(`/v1/deliveries/${id}/retry`).expect(409);
    await t.api.post('/v1/deliveries/999999/retry').expect(404);
  });
});

describe('alerting alarms: usage errors exit 2', () => {
  it.each([[['alarms', 'bogus']], [['alarms']]])(
    'alerting %j exits 2 with the usage',
    async (args) => {
      const err: string[] = [];
      const code = await runCli(
        args,
        { SNS_TOPIC_ARN: 'arn:aws:sns:eu-central-1:123456789012:alerts' },
        { out: () => undefined, err: (l) => err.push(l) },
      );
      expect(code).toBe(2);
      expect(err.join('\n')).toContain('Usage: npm run alarms');
    },
  );
});
