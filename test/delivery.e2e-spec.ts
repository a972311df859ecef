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
  beforeEach(() => pd.reset());

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
  const deliveriesOf = (dedupKey: string) =>
    t.dataSource
      .getRepository(Delivery)
      .find({ where: { dedupKey }, order: { id: 'ASC' } });

  it('retries through three 500s and delivers on the 202', async () => {
    pd.failNext(3, 500);
    const key = await fire();
    await pd.waitFor((r) => r.length === 1, 10_000);
    expect(pd.requests.map((r) => r.status)).toEqual([500, 500, 500, 202]);
    const [row] = await deliveriesOf(key);
    await expect
      .poll(async () => (await deliveriesOf(key))[0].state)
      .toBe('delivered');
    expect((await deliveriesOf(key))[0].attempts).toBe(4);
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
      .poll(async () => (await deliveriesOf(key))[0].state)
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
      .poll(async () => (await deliveriesOf(key))[0]?.state)
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
      .poll(async () => (await deliveriesOf(key))[0].state)
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
      .poll(async () => (await deliveriesOf(key))[0].attempts, {
        timeout: 5_000,
      })
      .toBeGreaterThanOrEqual(2);
    const rows = await deliveriesOf(key);
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
    expect((await deliveriesOf(stuck))[0].state).toBe('pending');
  });
});
