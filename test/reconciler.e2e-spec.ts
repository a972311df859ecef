import { CloudWatchFake } from './fakes/cloudwatch.fake.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  ROUTING_KEY,
  type TestApp,
  pagerDutyEnv,
} from './support/test-app.js';
import { IncidentService } from '../src/alerting/incident.service.js';
import { IncidentEvent } from '../src/alerting/incident-event.entity.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { ReconcilerService } from '../src/reconciler/reconciler.service.js';

const resolvesOf = (pd: FakePagerDuty) =>
  pd.received
    .filter((e) => e.body.event_action === 'resolve')
    .map((e) => e.dedupKey);

describe('Reconciler: stale incidents on a real schedule (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
        INCIDENT_RESOLVE_TIMEOUT: '1s',
        RECONCILE_INTERVAL: '200ms',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });

  it('auto-resolves an incident not seen for INCIDENT_RESOLVE_TIMEOUT, keeps the ones seen again or with a longer resolveTimeout', async () => {
    const fire = (alarmName: string, extra: Record<string, unknown> = {}) =>
      t.api
        .post('/v1/alerts')
        .send({ severity: 'critical', alarmName, ...extra })
        .expect(202);
    const started = Date.now();
    await fire('e2e-stale');
    await fire('e2e-long', { resolveTimeout: '1h' });
    await fire('e2e-alive');
    // supertest only sends once awaited or then-ed
    const keepAlive = setInterval(
      () => void fire('e2e-alive').then(() => undefined),
      250,
    );
    try {
      await pd.waitFor(
        (r) => r.some((e) => e.body.event_action === 'resolve'),
        5_000,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      // twice the timeout, several ticks: the others had every chance to be (wrongly) resolved
      await new Promise((r) =>
        setTimeout(r, Math.max(0, 2_200 - (Date.now() - started))),
      );
    } finally {
      clearInterval(keepAlive);
    }
    expect(resolvesOf(pd)).toEqual(['e2e-stale']);
    expect(pd.eventsFor('e2e-stale')[1].body).toEqual({
      routing_key: ROUTING_KEY,
      dedup_key: 'e2e-stale',
      event_action: 'resolve',
    });

    const stale = await t.api.get('/v1/incidents/e2e-stale').expect(200);
    expect(stale.body).toMatchObject({
      status: 'resolved',
      resolveReason: 'stale',
    });
    expect(stale.body.timeline.map((e: { type: string }) => e.type)).toEqual([
      'triggered',
      'resolved',
    ]);
    expect(stale.body.timeline[1].detail).toMatchObject({ reason: 'stale' });
    await t.api
      .get('/v1/incidents/e2e-long')
      .expect(200)
      .expect((r) => expect(r.body.status).toBe('triggered'));
    const alive = await t.dataSource
      .getRepository(Incident)
      .findBy({ dedupKey: 'e2e-alive' });
    expect(alive).toHaveLength(1);
    expect(alive[0].status).toBe('triggered');
    expect(alive[0].occurrences).toBeGreaterThan(5);
  });
});

describe('Reconciler: lost CloudWatch OKs (e2e, local CloudWatch fake)', () => {
  const pd = new FakePagerDuty();
  let cw: CloudWatchFake;
  let t: TestApp;
  let incidents: IncidentService;
  let sut: ReconcilerService;

  beforeAll(async () => {
    await pd.start();
    cw = await CloudWatchFake.start();
    // the SDK's default credential chain; the fake does not check signatures
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
        AWS_ENDPOINT_URL: cw.endpoint,
        AWS_REGION: cw.region,
        // ticks come from the test; nothing is stale by time here
        RECONCILE_INTERVAL: '1h',
        INCIDENT_RESOLVE_TIMEOUT: '1d',
      },
    });
    incidents = t.app.get(IncidentService);
    sut = t.app.get(ReconcilerService);
  });
  afterAll(async () => {
    await t?.close();
    await cw?.close();
    await pd.stop();
    vi.unstubAllEnvs();
  });
  beforeEach(() => pd.reset());

  const fromAlarm = (name: string, alarmArn = cw.arnOf(name)) =>
    incidents.ingest([
      {
        alert: {
          severity: 'CRITICAL',
          alarmName: name,
          description: 'from CloudWatch',
        },
        meta: { source: 'sns', alarmArn, transitionAt: new Date() },
      },
    ]);
  const inAlarm = (name: string) => {
    cw.seed({ AlarmName: name, MetricName: 'ErrorRate', Namespace: 'Test' });
    cw.setState(name, 'ALARM');
  };
  const incident = (key: string) =>
    t.dataSource.getRepository(Incident).findOneByOrFail({ dedupKey: key });

  it('resolves with alarm-ok when the alarm is back in OK and alarm-deleted when it is gone, batching DescribeAlarms by 100', async () => {
    const others = Array.from(
      { length: 150 },
      (_, i) => `cw-firing-${String(i).padStart(3, '0')}`,
    );
    for (const name of ['cw-ok', 'cw-deleted', ...others]) {
      inAlarm(name);
      await fromAlarm(name);
    }
    // an alarm of another region is not ours to ask about: absent here does not mean deleted
    await fromAlarm(
      'cw-elsewhere',
      'arn:aws:cloudwatch:us-east-1:123456789012:alarm:cw-elsewhere',
    );
    // a plain HTTP alert has no alarm behind it
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: 'cw-http-only' })
      .expect(202);
    await pd.waitFor((r) => r.length === others.length + 4, 15_000);
    pd.reset();
    cw.calls.length = 0;

    cw.setState('cw-ok', 'OK');
    cw.remove('cw-deleted');
    expect(await sut.tick()).toMatchObject({
      skipped: false,
      stale: 0,
      alarmOk: 1,
      alarmDeleted: 1,
    });

    const describes = cw.calls.filter((c) => c.operation === 'DescribeAlarms');
    expect(describes).toHaveLength(2);
    for (const call of describes) {
      expect((call.input.AlarmNames as string[]).length).toBeLessThanOrEqual(
        100,
      );
      expect(call.input.AlarmTypes).toEqual(['MetricAlarm', 'CompositeAlarm']);
    }
    expect(
      describes.flatMap((c) => c.input.AlarmNames as string[]).sort(),
    ).toEqual(['cw-ok', 'cw-deleted', ...others].sort());

    expect(await incident('cw-ok')).toMatchObject({
      status: 'resolved',
      resolveReason: 'alarm-ok',
    });
    expect(await incident('cw-deleted')).toMatchObject({
      status: 'resolved',
      resolveReason: 'alarm-deleted',
    });
    for (const key of [
      'cw-elsewhere',
      'cw-http-only',
      others[0],
      others[149],
    ]) {
      expect((await incident(key)).status).toBe('triggered');
    }
    const okIncident = await incident('cw-ok');
    const timeline = await t.dataSource
      .getRepository(IncidentEvent)
      .findBy({ incidentId: okIncident.id, type: 'resolved' });
    expect(timeline).toHaveLength(1);
    expect(timeline[0].detail).toMatchObject({
      reason: 'alarm-ok',
      alarmName: 'cw-ok',
    });

    await pd.waitFor((r) => r.length === 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(resolvesOf(pd).sort()).toEqual(['cw-deleted', 'cw-ok']);

    // a second tick finds nothing new to do
    expect(await sut.tick()).toMatchObject({ alarmOk: 0, alarmDeleted: 0 });
  });

  it('resolves nothing when CloudWatch cannot be asked', async () => {
    inAlarm('cw-outage');
    await fromAlarm('cw-outage');
    cw.setState('cw-outage', 'OK');
    for (let i = 0; i < 5; i++)
      cw.failNext('DescribeAlarms', {
        status: 500,
        code: 'InternalServiceError',
      });
    const result = await sut.tick();
    expect(result.cloudWatchError).toBeTruthy();
    expect(result).toMatchObject({ alarmOk: 0, alarmDeleted: 0 });
    expect((await incident('cw-outage')).status).toBe('triggered');
  });
});
