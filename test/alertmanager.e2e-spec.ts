import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { IncidentService } from '../src/alerting/incident.service.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  ROUTING_KEY,
  type TestApp,
  pagerDutyEnv,
} from './support/test-app.js';

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(
      new URL(`./fixtures/alertmanager/${name}`, import.meta.url),
      'utf8',
    ),
  ) as Record<string, any>;
const FIRING = fixture('webhook-firing.json');
const RESOLVED = fixture('webhook-resolved.json');
const KEY = 'alertmanager-f404ecabc8dd5cd7';

/** The fixture group with another fingerprint, so each test owns its incident. */
function group(
  base: Record<string, any>,
  fingerprint: string,
  annotations?: Record<string, string>,
) {
  return {
    ...base,
    alerts: base.alerts.map((a: Record<string, unknown>) => ({
      ...a,
      fingerprint,
      ...(annotations ? { annotations } : {}),
    })),
  };
}

describe('POST /v1/alertmanager (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });
  afterEach(() => vi.restoreAllMocks());

  it('fires the fixture, resolves its twin, and stays one incident when both are re-sent twice', async () => {
    const fired = await t.api.post('/v1/alertmanager').send(FIRING).expect(202);
    expect(fired.body.results).toEqual([
      { dedupKey: KEY, incidentId: expect.any(String), action: 'triggered' },
    ]);
    const incidentId = fired.body.results[0].incidentId;
    await pd.waitFor((r) => r.some((e) => e.dedupKey === KEY));

    for (let i = 0; i < 2; i++) {
      const again = await t.api
        .post('/v1/alertmanager')
        .send(FIRING)
        .expect(202);
      expect(again.body.results).toEqual([
        { dedupKey: KEY, incidentId, action: 'deduplicated' },
      ]);
    }
    const resolved = await t.api
      .post('/v1/alertmanager')
      .send(RESOLVED)
      .expect(202);
    expect(resolved.body.results).toEqual([
      { dedupKey: KEY, incidentId, action: 'resolved' },
    ]);
    for (let i = 0; i < 2; i++) {
      const again = await t.api
        .post('/v1/alertmanager')
        .send(RESOLVED)
        .expect(202);
      expect(again.body.results).toEqual([
        { dedupKey: KEY, incidentId: null, action: 'ignored' },
      ]);
    }

    const stored = await t.dataSource
      .getRepository(Incident)
      .findBy({ dedupKey: KEY });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      id: incidentId,
      status: 'resolved',
      occurrences: 3,
      severity: 'CRITICAL',
      alarmName: 'InstanceDown',
      ingestSource: 'alertmanager',
      resolveReason: 'alert',
    });
    const events = await pd.waitFor(
      (r) => r.filter((e) => e.dedupKey === KEY).length >= 2,
    );
    // Let a wrongly queued extra event surface before counting.
    await new Promise((r) => setTimeout(r, 300));
    expect(pd.eventsFor(KEY).map((e) => e.body.event_action)).toEqual([
      'trigger',
      'resolve',
    ]);
    const trigger = events.find((e) => e.dedupKey === KEY)!.body;
    expect(trigger).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      payload: {
        summary:
          '🚨 [PRODUCTION] InstanceDown: Instance localhost:8081 down — localhost:8081 has been down for more than 1 minute',
        severity: 'critical',
        custom_details: {
          labels: FIRING.alerts[0].labels,
          annotations: FIRING.alerts[0].annotations,
        },
      },
    });
    expect(trigger.links).toEqual(
      expect.arrayContaining([
        { href: FIRING.alerts[0].generatorURL, text: 'Prometheus' },
      ]),
    );
  });

  it('requires the API key', async () => {
    await t
      .http()
      .post('/v1/alertmanager')
      .send(group(FIRING, 'noauth0000000001'))
      .expect(401);
    await t
      .http()
      .post('/v1/alertmanager')
      .set('X-API-Key', 'wrong')
      .send(group(FIRING, 'noauth0000000001'))
      .expect(401);
    expect(
      await t.dataSource
        .getRepository(Incident)
        .countBy({ dedupKey: 'alertmanager-noauth0000000001' }),
    ).toBe(0);
  });

  it.each([
    [{ ...FIRING, version: '3' }, /version: expected "4", got "3"/],
    [{ ...FIRING, alerts: 'nope' }, /alerts: must be an array/],
    [
      group(FIRING, 'bad0000000000001', { summary: 42 } as never),
      /alerts\[0\]\.annotations\.summary: must be a string/,
    ],
    [
      { ...FIRING, alerts: [{ ...FIRING.alerts[0], status: 'pending' }] },
      /alerts\[0\]\.status: expected "firing" or "resolved"/,
    ],
  ])(
    'answers 400 naming the problem and stores nothing (%#)',
    async (body, message) => {
      const before = await t.dataSource.getRepository(Incident).count();
      const res = await t.api.post('/v1/alertmanager').send(body).expect(400);

      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message.join('\n')).toMatch(message);
      expect(await t.dataSource.getRepository(Incident).count()).toBe(before);
    },
  );

  it('stores a group in one transaction: a bad alert anywhere rejects the whole group', async () => {
    const body = {
      ...FIRING,
      alerts: [
        { ...FIRING.alerts[0], fingerprint: 'whole00000000001' },
        { ...FIRING.alerts[0], labels: 'x' },
      ],
    };
    await t.api.post('/v1/alertmanager').send(body).expect(400);

    expect(
      await t.dataSource
        .getRepository(Incident)
        .countBy({ dedupKey: 'alertmanager-whole00000000001' }),
    ).toBe(0);
  });

  it('answers 503 when storing fails, so Alertmanager retries', async () => {
    vi.spyOn(t.app.get(IncidentService), 'ingest').mockRejectedValueOnce(
      new Error('SQLITE_BUSY: database is locked'),
    );
    const logged = vi.spyOn(Logger.prototype, 'error');

    const res = await t.api
      .post('/v1/alertmanager')
      .send(group(FIRING, 'retry00000000001'))
      .expect(503);
    // one line for the operator, with the cause; none of it in the answer
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0][0])).toMatch(
      /alerts could not be stored[\s\S]*caused by: Error: SQLITE_BUSY: database is locked/,
    );
    logged.mockRestore();

    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'alerts could not be stored right now; retry',
    });
    const retried = await t.api
      .post('/v1/alertmanager')
      .send(group(FIRING, 'retry00000000001'))
      .expect(202);
    expect(retried.body.results[0].action).toBe('triggered');
  });

  it('cuts annotations that push customDetails over 64 KiB, so the group still pages', async () => {
    const annotations = {
      summary: 'Huge annotations',
      description: 'an exporter dumped a stack of logs into its annotations',
      logs: 'x'.repeat(400_000),
      runbook: 'y'.repeat(200_000),
    };
    const body = group(FIRING, 'huge000000000001', annotations);
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(1024 * 1024);

    const res = await t.api.post('/v1/alertmanager').send(body).expect(202);
    expect(res.body.results[0].action).toBe('triggered');

    const key = 'alertmanager-huge000000000001';
    await pd.waitFor((r) => r.some((e) => e.dedupKey === key), 10_000);
    const event = pd.eventsFor(key)[0].body;
    expect(event.payload.summary).toBe(
      '🚨 [PRODUCTION] InstanceDown: Huge annotations — an exporter dumped a stack of logs into its annotations',
    );
    const sent = event.payload.custom_details.annotations;
    expect(sent.summary).toBe('Huge annotations');
    expect(sent.logs).toMatch(/^x+…$/);
    expect(sent.runbook).toMatch(/^y+…$/);
    const stored = await t.dataSource
      .getRepository(Incident)
      .findOneByOrFail({ dedupKey: key });
    expect(
      Buffer.byteLength(JSON.stringify(stored.customDetails)),
    ).toBeLessThanOrEqual(64 * 1024);
    expect(stored.customDetails).toMatchObject({ annotations: sent });
  });
});
