import { createHash } from 'node:crypto';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { golden } from './support/golden.js';
import {
  createTestApp,
  ROUTING_KEY,
  type TestApp,
} from './support/test-app.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { Delivery } from '../src/notifier/delivery.entity.js';

describe('Alert ingestion → incidents → PagerDuty (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      env: {
        ...golden.settings,
        PAGERDUTY_EVENTS_URL: pd.url,
        PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });
  beforeEach(() => pd.reset());

  const alert = (over: Record<string, unknown> = {}) => ({
    severity: 'critical',
    alarmName: `alarm-${Math.random().toString(36).slice(2)}`,
    metricName: 'ErrorRate',
    threshold: 5,
    currentValue: 9,
    description: 'error rate too high',
    ...over,
  });

  it('sends exactly the golden event for the high-failure-rate template', async () => {
    const res = await t.api
      .post(golden.request.path)
      .send(golden.request.body as object)
      .expect(202);
    expect(res.body.results).toEqual([
      {
        dedupKey: golden.event.dedup_key,
        // time-ordered (UUIDv7): new rows append to the primary-key index
        incidentId: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        ),
        action: 'triggered',
      },
    ]);
    const [received] = await pd.waitFor((r) => r.length === 1);
    const { timestamp, ...payload } = received.body.payload;
    const { timestamp: _goldenTs, ...goldenPayload } = golden.event.payload;
    expect(JSON.stringify({ ...received.body, payload })).toBe(
      JSON.stringify({ ...golden.event, payload: goldenPayload }),
    );
    expect(new Date(timestamp).toISOString()).toBe(timestamp);
    const stored = await t.dataSource
      .getRepository(Incident)
      .findOneByOrFail({ dedupKey: golden.event.dedup_key });
    expect(stored).toMatchObject({
      status: 'triggered',
      severity: 'CRITICAL',
      occurrences: 1,
      // PagerDuty's part of the opaque notifier context: its resolve goes to the same key
      notifierContext: { pagerduty: { routingKey: ROUTING_KEY } },
    });
  });

  it('deduplicates 100 identical firing alerts into one incident and one trigger', async () => {
    const a = alert();
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        t.api.post('/v1/alerts').send(a).expect(202),
      ),
    );
    const actions = results.map((r) => r.body.results[0].action);
    expect(actions.filter((x) => x === 'triggered')).toHaveLength(1);
    expect(actions.filter((x) => x === 'deduplicated')).toHaveLength(99);
    const incidents = await t.dataSource
      .getRepository(Incident)
      .findBy({ dedupKey: `${a.alarmName}-ErrorRate` });
    expect(incidents).toHaveLength(1);
    expect(incidents[0].occurrences).toBe(100);
    await pd.waitFor((r) => r.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(pd.received.map((e) => e.body.event_action)).toEqual(['trigger']);
  });

  it('resolves after the trigger, reopens a new incident on firing again, and acks/resolves by API', async () => {
    const a = alert();
    const key = `${a.alarmName}-ErrorRate`;
    const first = await t.api.post('/v1/alerts').send(a).expect(202);
    const resolved = await t.api
      .post('/v1/alerts')
      .send({ ...a, status: 'resolved' })
      .expect(202);
    expect(resolved.body.results[0]).toMatchObject({
      action: 'resolved',
      incidentId: first.body.results[0].incidentId,
    });
    await pd.waitFor((r) => r.length === 2);
    expect(
      pd.received.map((e) => [e.body.event_action, e.body.dedup_key]),
    ).toEqual([
      ['trigger', key],
      ['resolve', key],
    ]);
    expect(pd.received[1].body).toEqual({
      routing_key: ROUTING_KEY,
      dedup_key: key,
      event_action: 'resolve',
    });

    const again = await t.api.post('/v1/alerts').send(a).expect(202);
    expect(again.body.results[0].action).toBe('triggered');
    expect(again.body.results[0].incidentId).not.toBe(
      first.body.results[0].incidentId,
    );
    await t.api
      .post(`/v1/incidents/${key}/acknowledge`)
      .expect(200)
      .expect((r) => expect(r.body.status).toBe('acknowledged'));
    await t.api
      .post(`/v1/incidents/${key}/resolve`)
      .expect(200)
      .expect((r) => expect(r.body.status).toBe('resolved'));
    await pd.waitFor((r) => r.length === 5);
    expect(pd.received.map((e) => e.body.event_action)).toEqual([
      'trigger',
      'resolve',
      'trigger',
      'acknowledge',
      'resolve',
    ]);

    await t.api.post(`/v1/incidents/${key}/resolve`).expect(409);
    await t.api.post(`/v1/incidents/${key}/acknowledge`).expect(409);
    await t.api.post('/v1/incidents/no-such-key/acknowledge').expect(404);
    await t.api.post('/v1/incidents/no-such-key/resolve').expect(404);

    const detail = await t.api.get(`/v1/incidents/${key}`).expect(200);
    expect(detail.body.status).toBe('resolved');
    expect(detail.body.resolveReason).toBe('manual');
    expect(detail.body.timeline.map((e: { type: string }) => e.type)).toEqual([
      'triggered',
      'acknowledged',
      'resolved',
    ]);
    expect(
      detail.body.deliveries.map((d: { action: string; state: string }) => [
        d.action,
        d.state,
      ]),
    ).toEqual([
      ['trigger', 'delivered'],
      ['acknowledge', 'delivered'],
      ['resolve', 'delivered'],
    ]);
    expect(JSON.stringify(detail.body)).not.toContain(ROUTING_KEY);

    const list = await t.api
      .get('/v1/incidents?status=resolved&limit=1')
      .expect(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.nextCursor).toEqual(expect.any(String));
    const page2 = await t.api
      .get(
        `/v1/incidents?status=resolved&limit=1&cursor=${list.body.nextCursor}`,
      )
      .expect(200);
    expect(page2.body.items[0].id).not.toBe(list.body.items[0].id);
  });

  describe('validation: 400 naming the field, nothing stored', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['missing severity', { severity: undefined }, 'severity'],
      ['bad severity', { severity: 'LOUD' }, 'severity'],
      ['missing alarmName', { alarmName: undefined }, 'alarmName'],
      ['empty alarmName', { alarmName: '' }, 'alarmName'],
      ['long alarmName', { alarmName: 'a'.repeat(256) }, 'alarmName'],
      ['long metricName', { metricName: 'm'.repeat(256) }, 'metricName'],
      ['string threshold', { threshold: '5' }, 'threshold'],
      ['non-number currentValue', { currentValue: 'NaN' }, 'currentValue'],
      ['bad timestamp', { timestamp: 'yesterday' }, 'timestamp'],
      ['long description', { description: 'd'.repeat(8193) }, 'description'],
      [
        'too many recommendations',
        { recommendations: Array(21).fill('r') },
        'recommendations',
      ],
      [
        'long recommendation',
        { recommendations: ['r'.repeat(1025)] },
        'recommendations',
      ],
      ['bad status', { status: 'open' }, 'status'],
      ['long dedupKey', { dedupKey: 'k'.repeat(256) }, 'dedupKey'],
      ['bad link', { links: [{ href: 'not a url' }] }, 'links.0.href'],
      [
        'unknown link field',
        { links: [{ href: 'https://x.example', foo: 1 }] },
        'foo',
      ],
      ['customDetails not object', { customDetails: 'x' }, 'customDetails'],
      [
        'customDetails over 64 KiB',
        { customDetails: { big: 'x'.repeat(65 * 1024) } },
        'customDetails',
      ],
      ['bad resolveTimeout', { resolveTimeout: 'soon' }, 'resolveTimeout'],
      ['unknown field', { colour: 'red' }, 'colour'],
      ['bad environment type', { environment: 42 }, 'environment'],
      ['bad class type', { class: 7 }, 'class'],
    ];
    it.each(cases)('%s', async (_name, over, field) => {
      const before = await t.dataSource.getRepository(Incident).count();
      const res = await t.api.post('/v1/alerts').send(alert(over)).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(JSON.stringify(res.body.message)).toContain(field);
      expect(await t.dataSource.getRepository(Incident).count()).toBe(before);
    });

    it('rejects a whole batch when one alert is bad, naming its index', async () => {
      const before = await t.dataSource.getRepository(Incident).count();
      const res = await t.api
        .post('/v1/alerts')
        .send([alert(), alert({ severity: 'nope' }), alert()])
        .expect(400);
      expect(JSON.stringify(res.body.message)).toContain('[1].severity');
      expect(await t.dataSource.getRepository(Incident).count()).toBe(before);
      expect(
        await t.dataSource
          .getRepository(Delivery)
          .count({ where: { state: 'pending' } }),
      ).toBe(0);
    });

    it('rejects an empty batch and one over 1000', async () => {
      await t.api.post('/v1/alerts').send([]).expect(400);
      const res = await t.api
        .post('/v1/alerts')
        .send(Array.from({ length: 1001 }, () => alert()))
        .expect(400);
      expect(JSON.stringify(res.body.message)).toContain('1001');
    });

    it('answers 413 for a body over 1 MiB', async () => {
      const before = await t.dataSource.getRepository(Incident).count();
      const res = await t.api
        .post('/v1/alerts')
        .set('content-type', 'application/json')
        .send(JSON.stringify(alert({ description: 'x'.repeat(1024 * 1024) })))
        .expect(413);
      expect(res.body.statusCode).toBe(413);
      expect(await t.dataSource.getRepository(Incident).count()).toBe(before);
    });

    it('rejects template bodies and unknown templates', async () => {
      await t.api
        .post('/v1/alerts/templates/high-latency')
        .send({ currentValue: 1 })
        .expect(400);
      await t.api
        .post('/v1/alerts/templates/nope')
        .send({ currentValue: 1, threshold: 2 })
        .expect(404);
    });
  });

  it('accepts a batch and answers per alert in order', async () => {
    const batch = Array.from({ length: 50 }, () => alert());
    const res = await t.api.post('/v1/alerts').send(batch).expect(202);
    expect(res.body.results).toHaveLength(50);
    expect(
      res.body.results.map((r: { dedupKey: string }) => r.dedupKey),
    ).toEqual(batch.map((a) => `${a.alarmName}-ErrorRate`));
    await pd.waitFor((r) => r.length === 50);
  });

  it('applies a batch in order when it repeats, resolves and reopens one key', async () => {
    const a = alert();
    const key = `${a.alarmName}-ErrorRate`;
    const res = await t.api
      .post('/v1/alerts')
      .send([
        a,
        { ...a, currentValue: 12 },
        { ...a, status: 'resolved' },
        a,
        alert(),
      ])
      .expect(202);
    expect(res.body.results.map((r: { action: string }) => r.action)).toEqual([
      'triggered',
      'deduplicated',
      'resolved',
      'triggered',
      'triggered',
    ]);
    const [first, , , reopened] = res.body.results;
    expect(reopened.incidentId).not.toBe(first.incidentId);
    const incidents = await t.dataSource
      .getRepository(Incident)
      .find({ where: { dedupKey: key }, order: { createdAt: 'ASC' } });
    const byId = new Map(incidents.map((i) => [i.id, i]));
    expect(byId.get(first.incidentId)).toMatchObject({
      status: 'resolved',
      occurrences: 2,
      currentValue: 12,
    });
    expect(byId.get(reopened.incidentId)).toMatchObject({
      status: 'triggered',
      occurrences: 1,
    });
    await pd.waitFor((r) => r.filter((e) => e.dedupKey === key).length === 3);
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'trigger',
      'resolve',
      'trigger',
    ]);
  });

  describe('event limits', () => {
    it('cuts the summary to 1024 code points (1023 + …)', async () => {
      const a = alert({ description: '🚀'.repeat(2000) });
      await t.api.post('/v1/alerts').send(a).expect(202);
      const [e] = await pd.waitFor((r) => r.length === 1);
      const points = [...e.body.payload.summary];
      expect(points).toHaveLength(1024);
      expect(points[1023]).toBe('…');
    });

    it('sends a dedup key over 255 characters as its SHA-256 hex', async () => {
      const a = alert({
        alarmName: 'a'.repeat(200),
        metricName: 'm'.repeat(200),
      });
      const key = `${a.alarmName}-${a.metricName}`;
      const res = await t.api.post('/v1/alerts').send(a).expect(202);
      expect(res.body.results[0].dedupKey).toBe(key);
      const [e] = await pd.waitFor((r) => r.length === 1);
      expect(e.body.dedup_key).toBe(
        createHash('sha256').update(key).digest('hex'),
      );
    });
  });
});
