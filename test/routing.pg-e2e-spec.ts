import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  pagerDutyEnv,
  ROUTING_KEY,
  TEST_API_KEY,
  type TestApp,
} from './support/test-app.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { eventsOf, sleep, TestClock } from './support/routing.js';
import { ReconcilerService } from '../src/reconciler/reconciler.service.js';
import { HoldReleaseService } from '../src/routing/hold-release.service.js';

// PostgreSQL only: two instances share one database there.
describe('Silences across two instances on one PostgreSQL database (e2e)', () => {
  const pd = new FakePagerDuty();
  const clock = new TestClock();
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    await pd.start();
    db = await createTestDatabase();
    const env = pagerDutyEnv(pd);
    a = await createTestApp({
      db,
      clock,
      env: { ...env, RECONCILE_INTERVAL: '50ms' },
    });
    // B's reconciler (which rereads the silences) does not tick during the test: B learns
    // of A's silence at its next batch that opens an incident, or never
    b = await createTestApp({
      db,
      clock,
      env: { ...env, RECONCILE_INTERVAL: '1h' },
    });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pd.stop();
    await db?.drop();
  });

  it('a silence created on one instance holds an alert on the other; its expiry pages the trigger once', async () => {
    // B has read the silences already (a first batch): it must notice A's new one by itself
    await b.api
      .post('/v1/alerts')
      .send({ severity: 'info', alarmName: 'warm-up' })
      .expect(202);
    const created = await a.api
      .post('/v1/silences')
      .send({
        matchers: { alarmName: { regex: 'pg-maint-.*' } },
        duration: '1h',
        comment: 'db upgrade',
        createdBy: 'ops',
      })
      .expect(201);
    await b.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: 'pg-maint-1' })
      .expect(202);
    const held = (await b.api.get('/v1/incidents/pg-maint-1').expect(200)).body;
    expect(held.suppressedBy).toMatchObject({
      reason: 'silence',
      silenceId: created.body.id,
    });
    expect(
      (await b.api.get(`/v1/silences/${created.body.id}`).expect(200)).body
        .state,
    ).toBe('active');

    // both release passes at once, over and over, besides the scheduled ticks of both apps
    const releasers = [a, b].map((t) => t.app.get(HoldReleaseService));
    await b
      .http()
      .delete(`/v1/silences/${created.body.id}`)
      .set('Authorization', `Bearer ${TEST_API_KEY}`)
      .expect(200);
    await Promise.all(
      releasers.flatMap((r) => [r.releaseDue(), r.releaseDue()]),
    );
    await pd.waitFor((r) => r.some((e) => e.dedupKey === 'pg-maint-1'), 3_000);
    await sleep(500);
    expect(eventsOf(pd, 'pg-maint-1')).toEqual([`trigger ${ROUTING_KEY}`]);
    const rows = await a.dataSource.query(
      `SELECT action FROM deliveries d JOIN incidents i ON i.id = d.incident_id WHERE i.dedup_key = 'pg-maint-1'`,
    );
    expect(rows).toEqual([{ action: 'trigger' }]);
    const ticks = await Promise.all(
      [a, b].map((t) => t.app.get(ReconcilerService).tick()),
    );
    expect(ticks.map((r) => r.released ?? 0)).toEqual([0, 0]);
  });
});
