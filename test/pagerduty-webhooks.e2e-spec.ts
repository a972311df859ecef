import { createHash, randomUUID } from 'node:crypto';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  signature,
  webhook,
  webhookFixture,
  WEBHOOK_PATH,
  WEBHOOK_SECRET,
  type WebhookFixture,
} from './support/pagerduty-webhooks.js';
import {
  createTestApp,
  pagerDutyEnv,
  type TestApp,
} from './support/test-app.js';
import { IncidentEvent } from '../src/alerting/incident-event.entity.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { Delivery } from '../src/notifier/delivery.entity.js';
import { PagerDutyWebhookEventRecord } from '../src/pagerduty-webhooks/pagerduty-webhook-event.entity.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROTATED_SECRET = 'previous-webhook-secret-41d8cd98f0';

describe('PagerDuty V3 webhooks (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
        // log beside pagerduty: PagerDuty's own changes reach the other notifiers only
        NOTIFIERS: 'pagerduty,log',
        PAGERDUTY_WEBHOOK_SECRETS: `${ROTATED_SECRET},${WEBHOOK_SECRET}`,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });
  beforeEach(() => pd.reset());

  const post = (body: string, sig: string | null = signature(body)) => {
    const req = t
      .http()
      .post(WEBHOOK_PATH)
      .set('Content-Type', 'application/json');
    if (sig !== null) req.set('X-PagerDuty-Signature', sig);
    return req.send(body);
  };
  const send = (name: WebhookFixture, options: Parameters<typeof webhook>[1]) =>
    post(webhook(name, options).body);

  /** Fires a fresh alert and waits for PagerDuty's trigger: the incident as on-call sees it. */
  async function firing(
    alert: Record<string, string> = {
      alarmName: 'RouterErrors',
      dedupKey: `pd-webhook-${randomUUID()}`,
    },
  ) {
    const res = await t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', ...alert })
      .expect(202);
    const { dedupKey, incidentId } = res.body.results[0];
    const key =
      dedupKey.length > 255
        ? createHash('sha256').update(dedupKey).digest('hex')
        : dedupKey;
    await pd.waitFor((r) => r.some((e) => e.dedupKey === key));
    return {
      dedupKey: dedupKey as string,
      key,
      incidentId: incidentId as string,
    };
  }
  const stored = (id: string) =>
    t.dataSource.getRepository(Incident).findOneByOrFail({ id });
  const timeline = (incidentId: string) =>
    t.dataSource
      .getRepository(IncidentEvent)
      .find({ where: { incidentId }, order: { at: 'ASC', id: 'ASC' } });
  const deliveries = (incidentId: string) =>
    t.dataSource
      .getRepository(Delivery)
      .find({ where: { incidentId }, order: { id: 'ASC' } });
  const eventRows = (incidentId: string) =>
    t.dataSource
      .getRepository(PagerDutyWebhookEventRecord)
      .findBy({ incidentId });
  const later = (ms: number) => new Date(Date.now() + ms);

  describe('authentication', () => {
    it('401 for a missing, wrong or tampered signature, and nothing changes', async () => {
      const { incidentId, key } = await firing();
      const { body } = webhook('incident.resolved', { key });
      const tampered = body.replace('"resolved"', '"acknowledged"');
      for (const [payload, sig] of [
        [body, null],
        [body, ''],
        [body, signature(body, 'not-the-secret-at-all-0000')],
        [body, signature(body).replace(/.$/, (c) => (c === '0' ? '1' : '0'))],
        [tampered, signature(body)],
        [body, signature(body).slice(3)],
      ] as const) {
        const res = await post(payload, sig).expect(401);
        expect(res.body).toEqual({
          statusCode: 401,
          error: 'Unauthorized',
          message:
            'X-PagerDuty-Signature is missing or matches no configured secret',
        });
      }
      const incident = await stored(incidentId);
      expect(incident.status).toBe('triggered');
      expect(incident.pagerdutyEventAt).toBeNull();
      expect((await timeline(incidentId)).map((e) => e.type)).toEqual([
        'triggered',
      ]);
      expect(await eventRows(incidentId)).toEqual([]);
    });

    it('verifies the raw bytes: a body PagerDuty formatted its own way passes, a signature of the re-serialized JSON does not', async () => {
      const { incidentId, key } = await firing();
      const { payload } = webhook('incident.acknowledged', { key });
      // Not what JSON.stringify would produce from the parsed object.
      const raw = `{ "event" :\n  ${JSON.stringify(payload.event, null, 3)}\n}\n`;
      const reserialized = JSON.stringify(JSON.parse(raw));
      expect(reserialized).not.toBe(raw);
      await post(raw, signature(reserialized)).expect(401);
      expect((await stored(incidentId)).status).toBe('triggered');
      const res = await post(raw, signature(raw)).expect(202);
      expect(res.body).toMatchObject({ outcome: 'applied' });
      expect((await stored(incidentId)).status).toBe('acknowledged');
    });

    it('accepts any valid signature among several, with any configured secret (rotation)', async () => {
      const { incidentId, key } = await firing();
      const { body } = webhook('incident.acknowledged', { key });
      const header = `v1=${'0'.repeat(64)},${signature(body, ROTATED_SECRET)}`;
      await post(body, header).expect(202);
      expect((await stored(incidentId)).status).toBe('acknowledged');
    });

    it('413 for a body over 1 MiB, before anything is verified or stored', async () => {
      const { key, incidentId } = await firing();
      const { payload } = webhook('incident.resolved', { key });
      payload.event.data.description = 'x'.repeat(1024 * 1024);
      const body = JSON.stringify(payload);
      const res = await post(body).expect(413);
      expect(res.body).toEqual({
        statusCode: 413,
        error: 'Payload Too Large',
        message: 'request body exceeds 1 MiB',
      });
      expect((await stored(incidentId)).status).toBe('triggered');
    });

    it('needs no API key: the signature is the authentication', async () => {
      const { body } = webhook('pagey.ping', { key: 'none' });
      await t
        .http()
        .post(WEBHOOK_PATH)
        .set('Content-Type', 'application/json')
        .set('X-PagerDuty-Signature', signature(body))
        .send(body)
        .expect(202);
    });
  });

  it('incident.triggered keeps the PagerDuty incident id, number and link, shown by GET /v1/incidents/:key', async () => {
    const { dedupKey, key, incidentId } = await firing();
    const res = await send('incident.triggered', {
      key,
      pagerDutyIncident: 'Q1LINKED0001',
      at: later(5),
    }).expect(202);
    expect(res.body).toEqual({
      eventId: expect.any(String),
      eventType: 'incident.triggered',
      outcome: 'applied',
      incidentId,
      status: 'triggered',
    });
    const shown = await t.api
      .get(`/v1/incidents/${encodeURIComponent(dedupKey)}`)
      .expect(200);
    expect(shown.body.pagerduty).toEqual({
      incidentId: 'Q1LINKED0001',
      number: 4711,
      htmlUrl: 'https://acme-ops.pagerduty.com/incidents/Q1LINKED0001',
    });
    expect(shown.body.status).toBe('triggered');
    expect(shown.body.timeline.map((e: any) => e.type)).toEqual([
      'triggered',
      'linked',
    ]);
    // the same PagerDuty incident announced again changes nothing
    const again = await send('incident.triggered', {
      key,
      pagerDutyIncident: 'Q1LINKED0001',
      at: later(10),
    }).expect(202);
    expect(again.body).toMatchObject({
      outcome: 'ignored',
      reason: 'already linked',
    });
    expect((await timeline(incidentId)).map((e) => e.type)).toEqual([
      'triggered',
      'linked',
    ]);
    const listed = await t.api.get('/v1/incidents?limit=5').expect(200);
    expect(
      listed.body.items.find((i: any) => i.id === incidentId).pagerduty.htmlUrl,
    ).toBe('https://acme-ops.pagerduty.com/incidents/Q1LINKED0001');
  });

  it('incident.acknowledged acknowledges ours, by PagerDuty with the agent, and echoes nothing to PagerDuty', async () => {
    const { dedupKey, key, incidentId } = await firing();
    const at = later(5);
    const res = await send('incident.acknowledged', { key, at }).expect(202);
    expect(res.body).toMatchObject({
      outcome: 'applied',
      incidentId,
      status: 'acknowledged',
    });
    const incident = await stored(incidentId);
    expect(incident.status).toBe('acknowledged');
    expect(incident.acknowledgedAt).toBe(at.toISOString());
    const shown = await t.api
      .get(`/v1/incidents/${encodeURIComponent(dedupKey)}`)
      .expect(200);
    expect(shown.body.timeline[1]).toEqual({
      at: expect.any(String),
      type: 'acknowledged',
      detail: {
        by: 'pagerduty',
        agent: 'Earline Greenholt',
        occurredAt: at.toISOString(),
        pagerdutyIncidentId: 'Q2OTNP4YSJQCHM',
        pagerdutyEventId: res.body.eventId,
      },
    });
    // the log notifier hears of it; PagerDuty, where it happened, gets nothing
    const rows = await deliveries(incidentId);
    expect(rows.map((d) => `${d.notifier}:${d.action}`)).toEqual([
      'pagerduty:trigger',
      'log:trigger',
      'log:acknowledge',
    ]);
    await sleep(300);
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'trigger',
    ]);
  });

  it('incident.unacknowledged puts ours back to triggered', async () => {
    const { key, incidentId } = await firing();
    await send('incident.acknowledged', { key, at: later(5) }).expect(202);
    const res = await send('incident.unacknowledged', {
      key,
      at: later(10),
    }).expect(202);
    expect(res.body).toMatchObject({ outcome: 'applied', status: 'triggered' });
    const incident = await stored(incidentId);
    expect(incident.status).toBe('triggered');
    expect(incident.acknowledgedAt).toBeNull();
    const events = await timeline(incidentId);
    expect(events.map((e) => e.type)).toEqual([
      'triggered',
      'acknowledged',
      'unacknowledged',
    ]);
    expect(events[2].detail).toMatchObject({
      by: 'pagerduty',
      agent: 'Hybrid Routing Alerts',
    });
    await sleep(300);
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'trigger',
    ]);
  });

  it('incident.resolved resolves ours with reason pagerduty, echoes nothing, and the still-firing alert pages again', async () => {
    const { dedupKey, key, incidentId } = await firing();
    const res = await send('incident.resolved', { key, at: later(5) }).expect(
      202,
    );
    expect(res.body).toMatchObject({ outcome: 'applied', status: 'resolved' });
    const incident = await stored(incidentId);
    expect(incident).toMatchObject({
      status: 'resolved',
      openKey: null,
      resolveReason: 'pagerduty',
    });
    const events = await timeline(incidentId);
    expect(events.at(-1)).toMatchObject({
      type: 'resolved',
      detail: {
        reason: 'pagerduty',
        by: 'pagerduty',
        agent: 'Earline Greenholt',
      },
    });
    expect(
      (await deliveries(incidentId)).map((d) => `${d.notifier}:${d.action}`),
    ).toEqual(['pagerduty:trigger', 'log:trigger', 'log:resolve']);
    await sleep(300);
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'trigger',
    ]);

    const again = await t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: 'RouterErrors', dedupKey })
      .expect(202);
    expect(again.body.results[0]).toMatchObject({ action: 'triggered' });
    expect(again.body.results[0].incidentId).not.toBe(incidentId);
    await pd.waitFor(() => pd.eventsFor(key).length === 2);
    expect(pd.eventsFor(key).map((e) => e.body.event_action)).toEqual([
      'trigger',
      'trigger',
    ]);
  });

  it('a repeated event.id is a no-op, even where the event would change the state', async () => {
    const { key, incidentId } = await firing();
    const ackId = randomUUID();
    const ack = webhook('incident.acknowledged', {
      key,
      id: ackId,
      at: later(5),
    });
    expect((await post(ack.body).expect(202)).body.outcome).toBe('applied');
    await send('incident.unacknowledged', { key, at: later(10) }).expect(202);
    // PagerDuty redelivers the acknowledgement (same event id)
    const res = await post(ack.body).expect(202);
    expect(res.body).toMatchObject({
      eventId: ackId,
      outcome: 'duplicate',
      incidentId,
    });
    expect((await stored(incidentId)).status).toBe('triggered');
    expect((await timeline(incidentId)).map((e) => e.type)).toEqual([
      'triggered',
      'acknowledged',
      'unacknowledged',
    ]);
    expect((await eventRows(incidentId)).length).toBe(2);
  });

  it('an event older than the incident’s last transition is ignored', async () => {
    const { key, incidentId } = await firing();
    const start = Date.now();
    const at = (ms: number) => new Date(start + ms);
    // delivered out of order: the unacknowledge (newer) before the acknowledge (older)
    await send('incident.acknowledged', { key, at: at(5_000) }).expect(202);
    await send('incident.unacknowledged', { key, at: at(20_000) }).expect(202);
    const res = await send('incident.acknowledged', {
      key,
      at: at(10_000),
    }).expect(202);
    expect(res.body).toMatchObject({
      outcome: 'ignored',
      reason: "older than the incident's last transition",
    });
    expect((await stored(incidentId)).status).toBe('triggered');
    // older than the incident itself: about an earlier PagerDuty incident of the key
    const stale = await send('incident.resolved', {
      key,
      at: new Date(Date.now() - 60_000),
    }).expect(202);
    expect(stale.body.outcome).toBe('ignored');
    expect((await stored(incidentId)).status).toBe('triggered');
    expect((await timeline(incidentId)).length).toBe(3);
  });

  it('an event about another PagerDuty incident than the one ours became is ignored', async () => {
    const { key, incidentId } = await firing();
    await send('incident.triggered', {
      key,
      pagerDutyIncident: 'QCURRENT',
      at: later(5),
    }).expect(202);
    const res = await send('incident.resolved', {
      key,
      pagerDutyIncident: 'QPREVIOUS',
      at: later(10),
    }).expect(202);
    expect(res.body).toMatchObject({ outcome: 'ignored' });
    expect((await stored(incidentId)).status).toBe('triggered');
  });

  it('an unknown incident_key and other event types are 202 and change nothing', async () => {
    const { incidentId, key } = await firing();
    const before = await t.dataSource
      .getRepository(PagerDutyWebhookEventRecord)
      .count();
    const unknown = await send('incident.resolved', {
      key: `never-sent-${randomUUID()}`,
    }).expect(202);
    expect(unknown.body).toEqual({
      eventId: expect.any(String),
      eventType: 'incident.resolved',
      outcome: 'ignored',
      reason: 'no open incident for this incident_key',
    });
    for (const name of ['incident.reopened', 'pagey.ping'] as const) {
      const res = await send(name, { key, at: later(5) }).expect(202);
      expect(res.body).toMatchObject({
        eventType: name,
        outcome: 'ignored',
        reason: 'event type not applied',
      });
    }
    // a type we do not know at all, shaped nothing like an incident
    const other = JSON.stringify({
      event: { id: randomUUID(), event_type: 'service.updated', data: {} },
    });
    await post(other).expect(202);
    expect((await stored(incidentId)).status).toBe('triggered');
    expect((await timeline(incidentId)).length).toBe(1);
    expect(
      await t.dataSource.getRepository(PagerDutyWebhookEventRecord).count(),
    ).toBe(before);
  });

  it('matches a long key, sent to PagerDuty as its SHA-256, back to its incident', async () => {
    // alarmName-metricName, over 255 characters: PagerDuty gets its SHA-256
    const {
      dedupKey: long,
      key,
      incidentId,
    } = await firing({
      alarmName: `pd-webhook-long-${randomUUID()}-${'a'.repeat(200)}`,
      metricName: 'm'.repeat(100),
    });
    expect(long.length).toBeGreaterThan(255);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(pd.eventsFor(key)).toHaveLength(1);
    const res = await send('incident.acknowledged', {
      key,
      at: later(5),
    }).expect(202);
    expect(res.body).toMatchObject({ outcome: 'applied', incidentId });
    expect((await stored(incidentId)).status).toBe('acknowledged');
    const incident = await stored(incidentId);
    expect(incident.dedupKey).toBe(long);
  });

  it('400 naming the field for a signed event without what it needs; nothing stored', async () => {
    const { key, incidentId } = await firing();
    const { payload } = webhook('incident.acknowledged', { key });
    delete payload.event.data.incident_key;
    payload.event.occurred_at = 'yesterday';
    const body = JSON.stringify(payload);
    const res = await post(body).expect(400);
    expect(res.body.message).toEqual([
      'event.occurred_at must be an ISO 8601 date-time',
      'event.data.incident_key must be a non-empty string',
    ]);
    const noEvent = JSON.stringify({ events: [] });
    expect((await post(noEvent).expect(400)).body.message).toEqual([
      'event must be an object',
    ]);
    expect((await stored(incidentId)).status).toBe('triggered');
    expect(await eventRows(incidentId)).toEqual([]);
  });

  it('never shows the webhook secrets in GET /v1/config/pagerduty', async () => {
    const res = await t.api.get('/v1/config/pagerduty').expect(200);
    expect(JSON.stringify(res.body)).not.toContain(WEBHOOK_SECRET);
    expect(JSON.stringify(res.body)).not.toContain(ROTATED_SECRET);
  });

  it('every fixture is a V3 payload of its type', () => {
    for (const name of [
      'incident.triggered',
      'incident.acknowledged',
      'incident.unacknowledged',
      'incident.resolved',
      'incident.reopened',
      'pagey.ping',
    ] as const) {
      const { event } = webhookFixture(name);
      expect(event.event_type).toBe(name);
      expect(Date.parse(event.occurred_at)).not.toBeNaN();
      if (name.startsWith('incident.'))
        expect(Object.keys(event.data)).toEqual(
          expect.arrayContaining([
            'id',
            'number',
            'status',
            'html_url',
            'incident_key',
          ]),
        );
    }
  });
});

describe('PagerDuty V3 webhooks without PAGERDUTY_WEBHOOK_SECRETS (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { NOTIFIERS: 'log' } });
  });
  afterAll(() => t?.close());

  it('503: the route is not configured, whatever the signature', async () => {
    const { body } = webhook('incident.acknowledged', { key: 'any' });
    const res = await t
      .http()
      .post(WEBHOOK_PATH)
      .set('Content-Type', 'application/json')
      .set('X-PagerDuty-Signature', signature(body))
      .send(body)
      .expect(503);
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message:
        'PagerDuty webhooks are not configured (PAGERDUTY_WEBHOOK_SECRETS is empty)',
    });
  });
});
