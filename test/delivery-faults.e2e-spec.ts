import { performance } from 'node:perf_hooks';
import { Delivery } from '../src/notifier/delivery.entity.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  pagerDutyEnv,
  ROUTING_KEY,
  type TestApp,
} from './support/test-app.js';

/** DELIVERY_RETRY_MAX: the longest any Retry-After may hold a delivery back */
const RETRY_MAX_MS = 1_000;
/** DELIVERY_TIMEOUT: the whole budget of one send */
const TIMEOUT_MS = 1_000;

/**
 * PagerDuty answering every odd way, one fault at a time and all at once: no answer may
 * stop paging, lose an event, send it twice, reorder a key, or hold other keys back.
 */
describe('Delivery under PagerDuty faults (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  beforeAll(async () => {
    process.on('warning', onWarning);
    await pd.start();
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
        DELIVERY_RETRY_BASE: '50ms',
        DELIVERY_RETRY_MAX: `${RETRY_MAX_MS}ms`,
        DELIVERY_TIMEOUT: `${TIMEOUT_MS}ms`,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
    process.off('warning', onWarning);
  });
  beforeEach(async () => {
    pd.reset();
    // nothing left over from the test before may take this test's scripted answer
    await expect
      .poll(
        () =>
          t.dataSource.getRepository(Delivery).countBy({ state: 'pending' }),
        { timeout: 10_000 },
      )
      .toBe(0);
    pd.reset();
  });
  afterEach(() => {
    // Node fires an overflowing timer at once: a delay nobody capped
    expect(warnings.map((w) => w.name)).not.toContain('TimeoutOverflowWarning');
  });

  let n = 0;
  const fire = async (
    status: 'firing' | 'resolved' = 'firing',
    name = `fault-${++n}`,
  ) => {
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'ERROR', alarmName: name, status })
      .expect(202);
    return name;
  };
  const statesOf = async (key: string) =>
    (await t.deliveriesOf(key)).map((d) => d.state);
  const actionsAt = (key: string) =>
    pd.eventsFor(key).map((e) => e.body.event_action as string);

  it.each([
    ['huge delta-seconds', '99999999999999999'],
    ['delta-seconds of 95 years', '3000000000'],
    ['an HTTP date in year 9999', 'Fri, 31 Dec 9999 23:59:59 GMT'],
    ['an HTTP date in the past', 'Sun, 06 Nov 1994 08:49:37 GMT'],
    ['a negative number', '-5'],
    ['garbage', 'soon, maybe'],
  ])(
    'a 429 with Retry-After of %s holds the row at most DELIVERY_RETRY_MAX, and other keys go on',
    async (_, retryAfter) => {
      pd.failNext(1, 429, undefined, { 'Retry-After': retryAfter });
      const throttled = await fire();
      await expect.poll(() => pd.requests[0]?.status).toBe(429);
      const other = await fire();

      await pd.waitFor(
        () =>
          pd.eventsFor(throttled).length === 1 &&
          pd.eventsFor(other).length === 1,
        RETRY_MAX_MS + 4_000,
      );
      const [refused, resent] = pd.requests.filter(
        (r) => JSON.parse(r.rawBody).dedup_key === throttled,
      );
      expect(resent.receivedAt - refused.receivedAt).toBeLessThan(
        RETRY_MAX_MS + 1_500,
      );
      await expect.poll(() => statesOf(throttled)).toEqual(['delivered']);
      await expect.poll(() => statesOf(other)).toEqual(['delivered']);
      const [row] = await t.deliveriesOf(throttled);
      expect(row.attempts).toBe(2);
      expect(row.lastError).toContain('Retry-After');
    },
  );

  it('a 202 with a 5 MB body is delivered once, keeping a 2 KiB excerpt', async () => {
    pd.quirkNext(1, { bodyBytes: 5_000_000 });
    const key = await fire();
    const other = await fire();

    await expect.poll(() => statesOf(key)).toEqual(['delivered']);
    await expect.poll(() => statesOf(other)).toEqual(['delivered']);
    const [row] = await t.deliveriesOf(key);
    expect(row.attempts).toBe(1);
    expect(row.lastResponse).toMatchObject({ status: 202 });
    expect(
      Buffer.byteLength(JSON.stringify(row.lastResponse)),
    ).toBeLessThanOrEqual(2_200);
    expect(actionsAt(key)).toEqual(['trigger']);
  });

  it('a 202 whose body trickles past DELIVERY_TIMEOUT is delivered once at the deadline, while other keys are delivered', async () => {
    pd.quirkNext(1, { trickle: { everyMs: 200, chunks: 50 } }); // 10 s of body
    const started = performance.now();
    const slow = await fire();
    await pd.waitFor(() => pd.eventsFor(slow).length === 1);
    const other = await fire();

    await pd.waitFor(() => pd.eventsFor(other).length === 1);
    // the slow answer is still being read: other keys did not wait for it
    expect(await statesOf(slow)).toEqual(['pending']);
    await expect
      .poll(() => statesOf(slow), { timeout: 8_000 })
      .toEqual(['delivered']);
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 5_000);
    expect((await t.deliveriesOf(slow))[0].attempts).toBe(1);
    expect(actionsAt(slow)).toEqual(['trigger']);
  });

  it('a connection reset in the middle of a 202 body is delivered once', async () => {
    pd.quirkNext(1, { resetAfterBytes: 12 });
    const key = await fire();
    await fire('resolved', key);

    await expect
      .poll(() => statesOf(key), { timeout: 5_000 })
      .toEqual(['delivered', 'delivered']);
    expect(actionsAt(key)).toEqual(['trigger', 'resolve']);
    expect(pd.requests).toHaveLength(2);
  });

  it('a non-JSON 202 is delivered once; a 200 HTML page is not PagerDuty and is retried', async () => {
    pd.quirkNext(1, {
      body: '<html><body>queued</body></html>',
      contentType: 'text/html',
    });
    const html = await fire();
    await expect.poll(() => statesOf(html)).toEqual(['delivered']);
    expect((await t.deliveriesOf(html))[0].lastResponse).toEqual({
      status: 202,
      body: '<html><body>queued</body></html>',
    });

    pd.failNext(1, 200, '<html><body>captive portal</body></html>');
    const portal = await fire();
    await expect.poll(() => statesOf(portal)).toEqual(['delivered']);
    expect((await t.deliveriesOf(portal))[0].attempts).toBe(2);
    expect(actionsAt(html)).toEqual(['trigger']);
    expect(actionsAt(portal)).toEqual(['trigger']);
  });

  it('after a run of every fault, each event of each key is delivered exactly once and in order', async () => {
    pd.failNext(1, 429, undefined, { 'Retry-After': '99999999999999999' })
      .failNext(1, 503)
      .failNext(1, 200, 'OK');
    pd.quirkNext(1, { resetAfterBytes: 5 })
      .quirkNext(1, {
        bodyBytes: 3_000_000,
        body: (e: { routing_key: string }) => `echo ${e.routing_key} `,
      })
      .quirkNext(1, { trickle: { everyMs: 150, chunks: 20 } })
      .quirkNext(1, { body: 'not json', contentType: 'text/plain' });
    const keys = Array.from({ length: 6 }, () => `mix-${++n}`);
    for (const key of keys) await fire('firing', key);
    for (const key of keys) await fire('resolved', key);

    await pd.waitFor((r) => r.length === keys.length * 2, 15_000);
    for (const key of keys)
      expect(actionsAt(key), key).toEqual(['trigger', 'resolve']);
    for (const key of keys)
      await expect
        .poll(() => statesOf(key), { timeout: 5_000 })
        .toEqual(['delivered', 'delivered']);
    // nothing more arrives later either: no row is left to be sent twice
    await new Promise((r) => setTimeout(r, 500));
    expect(pd.received).toHaveLength(keys.length * 2);
    const res = await t.api.get('/v1/deliveries?limit=500').expect(200);
    expect(JSON.stringify(res.body)).not.toContain(ROUTING_KEY);
  });

  it('an unreadable outbox row is made dead instead of failing every claim', async () => {
    await pd.goDown();
    const broken = await fire();
    await expect
      .poll(async () => (await t.deliveriesOf(broken))[0].attempts)
      .toBeGreaterThanOrEqual(1);
    const p = t.dataSource.options.type === 'postgres' ? '$1' : '?';
    await t.dataSource.query(
      `UPDATE deliveries SET payload = '{"incident": ', next_attempt_at = '2000-01-01T00:00:00.000Z' WHERE dedup_key = ${p}`,
      [broken],
    );
    await pd.comeBack();
    const other = await fire();

    await pd.waitFor(() => pd.eventsFor(other).length === 1, 5_000);
    // read raw: the entity would choke on the payload too
    const raw = async () =>
      (await t.dataSource.query(
        `SELECT state, last_error FROM deliveries WHERE dedup_key = ${p}`,
        [broken],
      )) as Array<{ state: string; last_error: string }>;
    await expect.poll(async () => (await raw())[0].state).toBe('dead');
    const [row] = await raw();
    expect(row.last_error).toMatch(/^unreadable outbox row: /);
  });
});
