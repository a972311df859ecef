import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  ROUTING_KEY,
  type TestApp,
} from './support/test-app.js';
import type { Clock } from '../src/ops/clock.js';
import { IncidentEvent } from '../src/alerting/incident-event.entity.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { ReconcilerService } from '../src/reconciler/reconciler.service.js';

class ManualClock implements Clock {
  constructor(private t: number) {}
  now() {
    return new Date(this.t);
  }
  advance(ms: number) {
    this.t += ms;
  }
}

const MIN = 60_000;

describe(ReconcilerService.name, () => {
  const pd = new FakePagerDuty();
  const clock = new ManualClock(Date.parse('2030-01-01T00:00:00.000Z'));
  let t: TestApp;
  let sut: ReconcilerService;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      clock,
      env: {
        NOTIFIERS: 'pagerduty',
        PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
        PAGERDUTY_EVENTS_URL: pd.url,
        PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
        INCIDENT_RESOLVE_TIMEOUT: '10m',
        // ticks come from the test, at the clock's times
        RECONCILE_INTERVAL: '1h',
      },
    });
    sut = t.app.get(ReconcilerService);
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });
  beforeEach(() => pd.reset());

  const fire = (alarmName: string, extra: Record<string, unknown> = {}) =>
    t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName, ...extra })
      .expect(202);
  const incident = (key: string) =>
    t.dataSource.getRepository(Incident).findOneByOrFail({ dedupKey: key });

  it('resolves what went stale, keeps what was seen again, and lets a per-alert resolveTimeout win', async () => {
    await fire('u-default');
    await fire('u-seen-again');
    await fire('u-long', { resolveTimeout: '1h' });
    await fire('u-short', { resolveTimeout: '1m' });
    await pd.waitFor((r) => r.length === 4);

    clock.advance(5 * MIN);
    await fire('u-seen-again');
    expect(await sut.tick()).toMatchObject({ skipped: false, stale: 1 });
    expect((await incident('u-short')).resolveReason).toBe('stale');
    expect((await incident('u-default')).status).toBe('triggered');

    clock.advance(7 * MIN);
    expect(await sut.tick()).toMatchObject({ skipped: false, stale: 1 });
    expect(await incident('u-default')).toMatchObject({
      status: 'resolved',
      resolveReason: 'stale',
      openKey: null,
    });
    expect((await incident('u-seen-again')).status).toBe('triggered');
    expect((await incident('u-long')).status).toBe('triggered');

    await pd.waitFor(
      (r) => r.filter((e) => e.body.event_action === 'resolve').length === 2,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(
      pd.received
        .filter((e) => e.body.event_action === 'resolve')
        .map((e) => e.dedupKey)
        .sort(),
    ).toEqual(['u-default', 'u-short']);
    const detail = await t.api.get('/v1/incidents/u-default').expect(200);
    expect(detail.body.timeline.map((e: { type: string }) => e.type)).toEqual([
      'triggered',
      'resolved',
    ]);
    expect(detail.body.timeline[1].detail).toMatchObject({
      reason: 'stale',
      resolveTimeoutMs: 10 * MIN,
    });

    clock.advance(60 * MIN);
    expect(await sut.tick()).toMatchObject({ stale: 2 });
    expect((await incident('u-long')).resolveReason).toBe('stale');
    await pd.waitFor(
      (r) => r.filter((e) => e.body.event_action === 'resolve').length === 4,
    );
  });

  it('resolves each stale incident once when ticks and unlocked passes overlap', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `u-race-${i}`);
    await t.api
      .post('/v1/alerts')
      .send(keys.map((alarmName) => ({ severity: 'warning', alarmName })))
      .expect(202);
    clock.advance(11 * MIN);

    const ticks = await Promise.all([sut.tick(), sut.tick()]);
    expect(ticks.map((r) => r.skipped).sort()).toEqual([false, true]);
    expect(ticks.reduce((n, r) => n + r.stale, 0)).toBe(keys.length);

    await fire('u-race-0');
    clock.advance(11 * MIN);
    // the lock aside, the conditional close alone keeps overlapping passes from double-resolving
    const passes = await Promise.all([
      sut.reconcile(),
      sut.reconcile(),
      sut.reconcile(),
    ]);
    expect(passes.reduce((n, r) => n + r.stale, 0)).toBe(1);

    const ids = (
      await t.dataSource.getRepository(Incident).findBy({ alarmName: keys[1] })
    ).map((i) => i.id);
    expect(ids).toHaveLength(1);
    const resolvedRows = await t.dataSource
      .getRepository(IncidentEvent)
      .countBy({ incidentId: ids[0], type: 'resolved' });
    expect(resolvedRows).toBe(1);
    await pd.waitFor(
      (r) =>
        r.filter((e) => e.body.event_action === 'resolve').length >=
        keys.length + 1,
    );
    await new Promise((r) => setTimeout(r, 200));
    const resolves = pd.received
      .filter(
        (e) =>
          e.body.event_action === 'resolve' && e.dedupKey.startsWith('u-race-'),
      )
      .map((e) => e.dedupKey);
    expect(resolves).toHaveLength(keys.length + 1);
    expect(new Set(resolves.filter((k) => k !== 'u-race-0')).size).toBe(
      keys.length - 1,
    );
  });
});
