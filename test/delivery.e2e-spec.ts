import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  ROUTING_KEY,
  type TestApp,
} from './support/test-app.js';
import { Delivery } from '../src/notifier/delivery.entity.js';

const PROD = {
  APP_ENV: 'production',
  NOTIFIERS: 'pagerduty',
  PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
  PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
  DELIVERY_RETRY_BASE: '100ms',
};

describe('Durable delivery to PagerDuty (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({ env: { ...PROD, PAGERDUTY_EVENTS_URL: pd.url } });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });
  beforeEach(async () => {
    pd.reset();
    // A row left pending by the test before (the hung send) would take the next scripted
    // failure meant for this test's first event.
    await expect
      .poll(
        () =>
          t.dataSource.getRepository(Delivery).countBy({ state: 'pending' }),
        { timeout: 15_000 },
      )
      .toBe(0);
    pd.reset();
  });

  let n = 0;
  const fire = async (
    status: 'firing' | 'resolved' = 'firing',
    name = `delivery-${++n}`,
  ) => {
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'ERROR', alarmName: name, status })
      .expect(202);
    return name;
  };

  it('retries through three 500s and delivers on the 202', async () => {
    pd.failNext(3, 500);
    const key = await fire();
    await pd.waitFor((r) => r.length === 1, 10_000);
    expect(pd.requests.map((r) => r.status)).toEqual([500, 500, 500, 202]);
    const [row] = await t.deliveriesOf(key);
    await expect
      .poll(async () => (await t.deliveriesOf(key))[0].state)
      .toBe('delivered');
    expect((await t.deliveriesOf(key))[0].attempts).toBe(4);
    void row;
  });

  it('backs off on 429 (honouring Retry-After) and then delivers', async () => {
    pd.failNext(1, 429, undefined, { 'Retry-After': '1' });
    const key = await fire();
    await pd.waitFor((r) => r.length === 1, 10_000);
    const [first, second] = pd.requests;
    expect(first.status).toBe(429);
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(900);
    await expect
      .poll(async () => (await t.deliveriesOf(key))[0].state)
      .toBe('delivered');
  });

  it('makes a delivery dead on 400 and shows PagerDuty’s errors in /v1/deliveries; retry re-queues it', async () => {
    const errors = ['payload.summary is missing'];
    pd.failNext(1, 400, {
      status: 'invalid event',
      message: 'Event object is invalid',
      errors,
    });
    const key = await fire();
    await expect
      .poll(async () => (await t.deliveriesOf(key))[0]?.state)
      .toBe('dead');
    expect(pd.requests).toHaveLength(1);
    const res = await t.api.get('/v1/deliveries?state=dead').expect(200);
    const dead = res.body.items.find(
      (d: { dedupKey: string }) => d.dedupKey === key,
    );
    expect(dead).toMatchObject({
      state: 'dead',
      attempts: 1,
      action: 'trigger',
      notifier: 'pagerduty',
    });
    expect(dead.lastError).toContain('Event object is invalid');
    expect(dead.lastResponse).toEqual({
      status: 'invalid event',
      message: 'Event object is invalid',
      errors,
    });
    expect(JSON.stringify(res.body)).not.toContain(ROUTING_KEY);

    await t.api.post(`/v1/deliveries/${dead.id}/retry`).expect(202);
    await pd.waitFor((r) => r.length === 1, 5_000);
    await expect
      .poll(async () => (await t.deliveriesOf(key))[0].state)
      .toBe('delivered');
    await t.api.post(`/v1/deliveries/${dead.id}/retry`).expect(409);
    await t.api.post('/v1/deliveries/999999999/retry').expect(404);
  });

  it('retries on connection refused, and delivers trigger before resolve once PagerDuty is back', async () => {
    await pd.goDown();
    const key = await fire('firing');
    await fire('resolved', key);
    const other = await fire('firing');
    await expect
      .poll(async () => (await t.deliveriesOf(key))[0].attempts, {
        timeout: 5_000,
      })
      .toBeGreaterThanOrEqual(2);
    const rows = await t.deliveriesOf(key);
    expect(rows.map((r) => [r.action, r.state])).toEqual([
      ['trigger', 'pending'],
      ['resolve', 'pending'],
    ]);
    // the resolve waits behind its trigger: never attempted while the trigger is pending
    expect(rows[1].attempts).toBe(0);
    expect(rows[0].lastError).toMatch(/ECONNREFUSED|unreachable|connect/i);
    await pd.comeBack();
    await pd.waitFor(
      (r) =>
        r.filter((e) => e.dedupKey === key).length === 2 &&
        r.some((e) => e.dedupKey === other),
      10_000,
    );
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'trigger',
      'resolve',
    ]);
  });

  it('a hanging PagerDuty times out and is retried without blocking other keys', async () => {
    pd.hang(true);
    const stuck = await fire();
    await expect.poll(() => pd.requests.length).toBe(1);
    pd.hang(false);
    const free = await fire();
    await pd.waitFor((r) => r.some((e) => e.dedupKey === free), 5_000);
    expect((await t.deliveriesOf(stuck))[0].state).toBe('pending');
  });

  const dead400 = () =>
    pd.failNext(1, 400, {
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ['payload.summary is missing'],
    });
  const stateOf = async (key: string, action: string) =>
    (await t.deliveriesOf(key)).find((d) => d.action === action)?.state;

  it('refuses (409) to retry a dead trigger once its resolve was delivered, so PagerDuty’s last word stays the resolve', async () => {
    dead400();
    const key = await fire('firing');
    await expect.poll(() => stateOf(key, 'trigger')).toBe('dead');
    await fire('resolved', key);
    await expect.poll(() => stateOf(key, 'resolve')).toBe('delivered');
    const [trigger] = await t.deliveriesOf(key);

    const res = await t.api
      .post(`/v1/deliveries/${trigger.id}/retry`)
      .expect(409);

    expect(res.body.message).toMatch(
      /later resolve .* was already delivered to pagerduty/,
    );
    expect(await stateOf(key, 'trigger')).toBe('dead');
    await new Promise((r) => setTimeout(r, 300));
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'resolve',
    ]);
  });

  it('retries a dead trigger and then its dead resolve in order', async () => {
    dead400();
    const key = await fire('firing');
    await expect.poll(() => stateOf(key, 'trigger')).toBe('dead');
    dead400();
    await fire('resolved', key);
    await expect.poll(() => stateOf(key, 'resolve')).toBe('dead');
    const [trigger, resolve] = await t.deliveriesOf(key);

    await t.api.post(`/v1/deliveries/${trigger.id}/retry`).expect(202);
    await t.api.post(`/v1/deliveries/${resolve.id}/retry`).expect(202);

    await pd.waitFor(() => pd.eventsFor(key).length === 2, 5_000);
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'trigger',
      'resolve',
    ]);
    await expect
      .poll(async () => (await t.deliveriesOf(key)).map((d) => d.state))
      .toEqual(['delivered', 'delivered']);
  });

  it('refuses (409) to retry a dead trigger while its resolve is being sent', async () => {
    dead400();
    const key = await fire('firing');
    await expect.poll(() => stateOf(key, 'trigger')).toBe('dead');
    pd.hang(true);
    await fire('resolved', key);
    await expect.poll(() => pd.requests.length).toBe(2);
    const [trigger] = await t.deliveriesOf(key);

    const res = await t.api
      .post(`/v1/deliveries/${trigger.id}/retry`)
      .expect(409);
    expect(res.body.message).toMatch(/later resolve .* is being sent/);

    pd.reset(); // the hung answer breaks off; the resolve is retried and delivered
    await expect
      .poll(() => stateOf(key, 'resolve'), { timeout: 5_000 })
      .toBe('delivered');
    await t.api.post(`/v1/deliveries/${trigger.id}/retry`).expect(409);
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'resolve',
    ]);
  });

  it('keeps a bounded, masked excerpt of a 5 MB 202 that echoes the routing key, and delivers once', async () => {
    pd.quirkNext(1, {
      body: (event: { routing_key: string; dedup_key: string }) => ({
        status: 'success',
        dedup_key: event.dedup_key,
        routing_key: event.routing_key,
        padding: 'x'.repeat(5_000_000),
      }),
    });
    const key = await fire();
    await expect
      .poll(() => stateOf(key, 'trigger'), { timeout: 5_000 })
      .toBe('delivered');

    const res = await t.api.get('/v1/deliveries?state=delivered').expect(200);
    const row = res.body.items.find(
      (d: { dedupKey: string }) => d.dedupKey === key,
    );
    expect(row.attempts).toBe(1);
    const stored = JSON.stringify(row.lastResponse);
    expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(2_200);
    expect(stored).toContain('****cdef');
    expect(JSON.stringify(res.body)).not.toContain(ROUTING_KEY);
    expect(pd.eventsFor(key)).toHaveLength(1);
  });

  it('masks a routing key PagerDuty echoes in a 400, in lastError and lastResponse', async () => {
    pd.failNext(1, 400, {
      status: 'invalid event',
      message: `Event object is invalid for ${ROUTING_KEY}`,
      errors: [`routing_key ${ROUTING_KEY} is not an integration`],
    });
    const key = await fire();
    await expect.poll(() => stateOf(key, 'trigger')).toBe('dead');

    const res = await t.api.get('/v1/deliveries?state=dead').expect(200);
    const row = res.body.items.find(
      (d: { dedupKey: string }) => d.dedupKey === key,
    );
    expect(row.lastError).toContain('****cdef');
    expect(row.lastResponse.errors).toEqual([
      'routing_key ****cdef is not an integration',
    ]);
    expect(JSON.stringify(res.body)).not.toContain(ROUTING_KEY);
  });
});

describe('DELIVERY_CONCURRENCY (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      env: {
        ...PROD,
        PAGERDUTY_EVENTS_URL: pd.url,
        DELIVERY_CONCURRENCY: '2',
        DELIVERY_TIMEOUT: '1s',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });

  it('keeps at most that many sends in flight; the others wait their turn and all arrive', async () => {
    pd.hang(true);
    const keys = Array.from({ length: 5 }, (_, i) => `concurrency-${i}`);
    await t.api
      .post('/v1/alerts')
      .send(keys.map((alarmName) => ({ severity: 'ERROR', alarmName })))
      .expect(202);
    await expect.poll(() => pd.requests.length).toBe(2);
    // the dispatcher's fallback poll (100 ms) runs meanwhile: still two, within the send timeout
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(pd.requests).toHaveLength(2);

    pd.hang(false);
    const received = await pd.waitFor(
      (r) => keys.every((key) => r.some((e) => e.dedupKey === key)),
      10_000,
    );
    expect(new Set(received.map((e) => e.dedupKey))).toEqual(new Set(keys));
    await expect
      .poll(async () =>
        (await t.dataSource.getRepository(Delivery).find()).map((d) => d.state),
      )
      .toEqual(keys.map(() => 'delivered'));
  });
});
