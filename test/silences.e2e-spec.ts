import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  pagerDutyEnv,
  ROUTING_KEY,
  type TestApp,
} from './support/test-app.js';
import { eventsOf, sleep, TestClock } from './support/routing.js';
import { Delivery } from '../src/notifier/delivery.entity.js';
import { Silence } from '../src/routing/silence.entity.js';

describe('Silences (e2e)', () => {
  const pd = new FakePagerDuty();
  const clock = new TestClock();
  let t: TestApp;
  const fire = (alert: Record<string, unknown>) =>
    t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', ...alert })
      .expect(202);
  const incident = async (key: string) =>
    (await t.api.get(`/v1/incidents/${key}`).expect(200)).body;
  const silence = (body: Record<string, unknown>) =>
    t.api.post('/v1/silences').send({
      comment: 'maintenance',
      createdBy: 'ops@example.com',
      duration: '1h',
      ...body,
    });
  const deliveries = (dedupKey: string) =>
    t.dataSource.getRepository(Delivery).findBy({ dedupKey });

  beforeAll(async () => {
    await pd.start();
    // no routing file: silences hold pages back all the same
    t = await createTestApp({
      clock,
      env: { ...pagerDutyEnv(pd), RECONCILE_INTERVAL: '100ms' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });
  beforeEach(() => pd.reset());

  it('refuses a silence without matchers, ending before it starts, or with a bad matcher, naming the field; stores nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ matchers: undefined }, 'matchers: required'],
      [{ matchers: {} }, 'matchers: must name at least one field'],
      [{ matchers: { colour: 'red' } }, 'matchers.colour: unknown field'],
      [
        { matchers: { severity: 'urgent' } },
        'matchers.severity: must be one of',
      ],
      [{ matchers: { alarmName: { regex: '(' } } }, 'matchers.alarmName.regex'],
      [
        {
          matchers: { alarmName: 'a' },
          duration: undefined,
          startsAt: '2026-12-01T10:00:00Z',
          endsAt: '2026-12-01T09:00:00Z',
        },
        'endsAt: must be after startsAt',
      ],
      [
        { matchers: { alarmName: 'a' }, duration: undefined },
        'endsAt: required (or duration)',
      ],
      [
        { matchers: { alarmName: 'a' }, duration: 'forever' },
        'duration: must be a duration',
      ],
      [{ matchers: { alarmName: 'a' }, comment: '' }, 'comment: required'],
      [
        { matchers: { alarmName: 'a' }, createdBy: undefined },
        'createdBy: required',
      ],
      [
        { matchers: { alarmName: 'a' }, extra: 1 },
        'property extra should not exist',
      ],
    ];
    for (const [body, message] of cases) {
      const res = await silence(body).expect(400);
      expect(res.body.message.join('\n')).toContain(message);
    }
    expect(await t.dataSource.getRepository(Silence).count()).toBe(0);
  });

  it('creates, lists by state, reads and expires silences; they are stored', async () => {
    const now = clock.now().getTime();
    const active = (
      await silence({ matchers: { alarmName: 'crud-a' } }).expect(201)
    ).body;
    expect(active).toMatchObject({
      state: 'active',
      createdBy: 'ops@example.com',
      matchers: { alarmName: 'crud-a' },
    });
    expect(active.endsAt).toBe(new Date(now + 3_600_000).toISOString());
    const pending = (
      await silence({
        matchers: { alarmName: ['crud-b'] },
        duration: undefined,
        startsAt: new Date(now + 3_600_000).toISOString(),
        endsAt: new Date(now + 7_200_000).toISOString(),
      }).expect(201)
    ).body;
    expect(pending.state).toBe('pending');
    const ids = async (state: string) =>
      (
        await t.api.get(`/v1/silences?state=${state}`).expect(200)
      ).body.items.map((s: { id: string }) => s.id);
    expect(await ids('active')).toContain(active.id);
    expect(await ids('active')).not.toContain(pending.id);
    expect(await ids('pending')).toEqual([pending.id]);
    await t.api.get('/v1/silences?state=gone').expect(400);
    expect(
      (await t.api.get(`/v1/silences/${active.id}`).expect(200)).body.id,
    ).toBe(active.id);
    await t.api.get('/v1/silences/nope').expect(404);

    const expired = (
      await t
        .http()
        .delete(`/v1/silences/${active.id}`)
        .set('Authorization', 'Bearer test-api-key-0123456789')
        .expect(200)
    ).body;
    expect(expired).toMatchObject({
      state: 'expired',
      endsAt: clock.now().toISOString(),
    });
    expect(await ids('expired')).toContain(active.id);
    const row = await t.dataSource
      .getRepository(Silence)
      .findOneByOrFail({ id: active.id });
    expect(row.endsAt).toBe(clock.now().toISOString());
    await t
      .http()
      .delete(`/v1/silences/${pending.id}`)
      .set('Authorization', 'Bearer test-api-key-0123456789')
      .expect(200);
    await t
      .http()
      .delete('/v1/silences/nope')
      .set('Authorization', 'Bearer test-api-key-0123456789')
      .expect(404);
    await t.http().post('/v1/silences').send({}).expect(401);
  });

  it('holds a matching alert: open, suppressedBy the silence, timeline suppressed, nothing sent; DELETE sends the trigger', async () => {
    const s = (
      await silence({
        matchers: { alarmName: { regex: 'maint-.*' }, severity: 'critical' },
      }).expect(201)
    ).body;
    await fire({ alarmName: 'maint-db' });
    await fire({ alarmName: 'other-db' });
    await pd.waitFor((r) => r.length === 1);
    const held = await incident('maint-db');
    expect(held.status).toBe('triggered');
    expect(held.suppressedBy).toEqual({
      reason: 'silence',
      silenceId: s.id,
      comment: 'maintenance',
    });
    expect(held.timeline[1]).toMatchObject({
      type: 'suppressed',
      detail: { reason: 'silence', silenceId: s.id },
    });
    expect(await deliveries('maint-db')).toEqual([]);
    await fire({ alarmName: 'maint-db' }); // a repeat dedups, still held
    await sleep(300);
    expect(eventsOf(pd, 'maint-db')).toEqual([]);

    await t
      .http()
      .delete(`/v1/silences/${s.id}`)
      .set('Authorization', 'Bearer test-api-key-0123456789')
      .expect(200);
    await pd.waitFor((r) => r.some((e) => e.dedupKey === 'maint-db'), 2_000);
    expect(eventsOf(pd, 'maint-db')).toEqual([`trigger ${ROUTING_KEY}`]);
    expect((await incident('maint-db')).suppressedBy).toBeNull();
    await t.api.post('/v1/incidents/maint-db/resolve').expect(200);
    await pd.waitFor((r) => r.length === 3);
    expect(eventsOf(pd, 'maint-db')).toEqual([
      `trigger ${ROUTING_KEY}`,
      `resolve ${ROUTING_KEY}`,
    ]);
  });

  it('expiry by time sends the trigger of a still-open incident; one resolved while held never sends anything', async () => {
    await silence({
      matchers: { alarmName: ['exp-open', 'exp-closed'] },
      duration: '10m',
    }).expect(201);
    await fire({ alarmName: 'exp-open' });
    await fire({ alarmName: 'exp-closed' });
    await fire({ alarmName: 'exp-closed', status: 'resolved' });
    expect((await incident('exp-closed')).status).toBe('resolved');
    await sleep(300);
    expect(pd.received).toHaveLength(0);
    clock.advance(10 * 60_000);
    await pd.waitFor((r) => r.length === 1, 2_000);
    await sleep(300);
    expect(eventsOf(pd)).toEqual([`trigger ${ROUTING_KEY}`]);
    expect(pd.received[0].dedupKey).toBe('exp-open');
    expect(await deliveries('exp-closed')).toEqual([]);
    const closed = await incident('exp-closed');
    expect(closed.suppressedBy).toMatchObject({ reason: 'silence' });
    expect(closed.timeline.map((e: { type: string }) => e.type)).toEqual([
      'triggered',
      'suppressed',
      'resolved',
    ]);
  });

  it('acknowledged while held: nothing sent then; on release the trigger, then the acknowledge', async () => {
    const s = (
      await silence({ matchers: { alarmName: 'held-ack' } }).expect(201)
    ).body;
    await fire({ alarmName: 'held-ack' });
    await t.api.post('/v1/incidents/held-ack/acknowledge').expect(200);
    await sleep(300);
    expect(await deliveries('held-ack')).toEqual([]);
    await t
      .http()
      .delete(`/v1/silences/${s.id}`)
      .set('Authorization', 'Bearer test-api-key-0123456789')
      .expect(200);
    await pd.waitFor((r) => r.length === 2, 2_000);
    expect(eventsOf(pd)).toEqual([
      `trigger ${ROUTING_KEY}`,
      `acknowledge ${ROUTING_KEY}`,
    ]);
    await t.api.post('/v1/incidents/held-ack/resolve').expect(200);
    await pd.waitFor((r) => r.length === 3);
  });

  it('never swallows the acknowledge and resolve of an incident that paged before the silence', async () => {
    await fire({ alarmName: 'paged-first' });
    await pd.waitFor((r) => r.length === 1);
    await silence({ matchers: { alarmName: 'paged-first' } }).expect(201);
    await fire({ alarmName: 'paged-first' });
    await t.api.post('/v1/incidents/paged-first/acknowledge').expect(200);
    await t.api.post('/v1/incidents/paged-first/resolve').expect(200);
    await pd.waitFor((r) => r.length === 3);
    expect(eventsOf(pd)).toEqual([
      `trigger ${ROUTING_KEY}`,
      `acknowledge ${ROUTING_KEY}`,
      `resolve ${ROUTING_KEY}`,
    ]);
    // a new incident under the key, while the silence lasts, is held
    await fire({ alarmName: 'paged-first' });
    expect((await incident('paged-first')).suppressedBy).toMatchObject({
      reason: 'silence',
    });
  });

  it('counts silenced alerts in /metrics and filters them in the incident list', async () => {
    const text = (await t.http().get('/metrics').expect(200)).text;
    expect(text).toMatch(
      /alerting_alerts_suppressed_total\{reason="silence"\} 5/,
    );
    expect(text).toMatch(/alerting_holds_released_total 3/);
    const held = (
      await t.api.get('/v1/incidents?suppressed=true').expect(200)
    ).body.items.map((i: { dedupKey: string }) => i.dedupKey);
    expect(held.sort()).toEqual(['exp-closed', 'paged-first']);
  });
});
