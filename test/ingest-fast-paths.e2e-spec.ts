import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IngestResult } from '../src/alerting/alert.types.js';
import { IncidentService } from '../src/alerting/incident.service.js';
import { PagerDutyWebhookService } from '../src/pagerduty-webhooks/pagerduty-webhook.service.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  pagerDutyEnv,
  type TestApp,
} from './support/test-app.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';

/**
 * On SQLite, concurrent requests share one unit of work, and a repeat of an open incident
 * this process knows is answered before its write commits. These are the orderings that
 * must still hold: every close is seen by the alert that comes after it, a failing request
 * fails alone, a repeat is visible to the next read and survives a graceful shutdown.
 * (PostgreSQL takes neither shortcut; the same expectations run there too.)
 */
describe('Concurrent ingest and repeats of open incidents (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;
  let incidents: IncidentService;
  let seq = 0;
  const key = (name: string) => `${name}-${++seq}`;
  const alert = (alarmName: string, extra: Record<string, unknown> = {}) => ({
    severity: 'ERROR',
    alarmName,
    currentValue: 1,
    ...extra,
  });
  const ingest = (a: Record<string, unknown>): Promise<IngestResult[]> =>
    incidents.ingest([{ alert: a as never, meta: { source: 'http' } }]);
  /**
   * The repeat right after a close is started. SQLite applies work in arrival order, so the
   * repeat is sent before the close commits; PostgreSQL's pool promises no order between
   * concurrent requests, so there the close is awaited first.
   */
  const after = async <T>(
    closing: Promise<T>,
    next: () => Promise<IngestResult[]>,
  ) => {
    if (t.db.dialect === 'postgres') await closing;
    const results = await next();
    return { closed: await closing, results };
  };
  const occurrences = async (dedupKey: string) =>
    (await t.api.get(`/v1/incidents/${dedupKey}`).expect(200)).body;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      env: { ...pagerDutyEnv(pd), PAGERDUTY_WEBHOOK_SECRETS: 'x'.repeat(24) },
    });
    incidents = t.app.get(IncidentService);
  });
  afterAll(async () => {
    await t.close();
    await pd.stop();
  });

  it('commits 150 concurrent requests (new and repeated keys) once each and pages each new key once', async () => {
    const fresh = Array.from({ length: 100 }, () => key('burst'));
    const repeated = Array.from({ length: 10 }, () => key('burst-repeat'));
    await Promise.all(
      repeated.map((k) => t.api.post('/v1/alerts').send(alert(k)).expect(202)),
    );
    const answers = await Promise.all([
      ...fresh.map((k) => t.api.post('/v1/alerts').send(alert(k))),
      ...repeated.flatMap((k) =>
        [1, 2, 3, 4, 5].map(() => t.api.post('/v1/alerts').send(alert(k))),
      ),
    ]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
    const actions = answers.map((a) => a.body.results[0].action);
    expect(actions.filter((a) => a === 'triggered')).toHaveLength(100);
    expect(actions.filter((a) => a === 'deduplicated')).toHaveLength(50);
    for (const k of repeated)
      expect((await occurrences(k)).occurrences).toBe(6);
    await pd.waitFor(
      (r) =>
        [...fresh, ...repeated].every((k) => r.some((e) => e.dedupKey === k)),
      20_000,
    );
    const triggers = pd.received.filter(
      (e) =>
        e.body.event_action === 'trigger' && e.dedupKey.startsWith('burst'),
    );
    expect(triggers).toHaveLength(110);
    expect(new Set(triggers.map((e) => e.dedupKey)).size).toBe(110);
  });

  it('shows a repeat to the very next read, with what it said', async () => {
    const k = key('read-after-repeat');
    await ingest(alert(k));
    for (const value of [2, 3, 4]) {
      const [r] = await ingest(alert(k, { currentValue: value }));
      expect(r.action).toBe('deduplicated');
    }
    const incident = await occurrences(k);
    expect(incident.occurrences).toBe(4);
    expect(incident.currentValue).toBe(4);
  });

  it('opens a new incident for a repeat that follows a manual resolve, even before it commits', async () => {
    const k = key('after-resolve');
    const [first] = await ingest(alert(k));
    await ingest(alert(k));
    const {
      results: [again],
    } = await after(incidents.resolve(k), () => ingest(alert(k)));
    expect(again.action).toBe('triggered');
    expect(again.incidentId).not.toBe(first.incidentId);
  });

  it('opens a new incident for a repeat that follows a resolving alert sent just before it', async () => {
    const k = key('after-resolving-alert');
    const [first] = await ingest(alert(k));
    await ingest(alert(k));
    const { closed: resolved, results: again } = await after(
      ingest(alert(k, { status: 'resolved' })),
      () => ingest(alert(k)),
    );
    expect(resolved[0]).toMatchObject({
      action: 'resolved',
      incidentId: first.incidentId,
    });
    expect(again[0].action).toBe('triggered');
    expect(again[0].incidentId).not.toBe(first.incidentId);
  });

  it('opens a new incident for a repeat that follows the reconciler or a PagerDuty resolve', async () => {
    const stale = key('after-stale');
    const [s] = await ingest(alert(stale));
    await ingest(alert(stale));
    const {
      closed: reconciled,
      results: [afterStale],
    } = await after(
      incidents.resolveIf(s.incidentId!, 'stale', () => true),
      () => ingest(alert(stale)),
    );
    expect(reconciled).toBe(true);
    expect(afterStale.action).toBe('triggered');

    const paged = key('after-pagerduty');
    const [p] = await ingest(alert(paged));
    await ingest(alert(paged));
    const webhooks = t.app.get(PagerDutyWebhookService);
    const {
      closed: receipt,
      results: [afterPagerDuty],
    } = await after(
      webhooks.receive({
        id: `evt-${paged}`,
        eventType: 'incident.resolved',
        occurredAt: new Date().toISOString(),
        agent: 'someone',
        incident: { id: 'PABC', number: 1, htmlUrl: null, incidentKey: paged },
      }),
      () => ingest(alert(paged)),
    );
    expect(receipt.outcome).toBe('applied');
    expect(afterPagerDuty.action).toBe('triggered');
    expect(afterPagerDuty.incidentId).not.toBe(p.incidentId);
  });

  it('fails a request alone when the database refuses it, while the requests committed with it succeed', async () => {
    const boom =
      t.db.dialect === 'postgres'
        ? [
            `CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN
               IF NEW.alarm_name = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF;
               RETURN NEW; END $$ LANGUAGE plpgsql`,
            `CREATE TRIGGER refuse_boom BEFORE INSERT ON incidents FOR EACH ROW EXECUTE FUNCTION refuse_boom()`,
          ]
        : [
            `CREATE TRIGGER refuse_boom BEFORE INSERT ON incidents WHEN NEW.alarm_name = 'boom'
             BEGIN SELECT RAISE(ABORT, 'boom refused'); END`,
          ];
    for (const sql of boom) await t.dataSource.query(sql);
    try {
      const good = Array.from({ length: 12 }, () => key('beside-boom'));
      // not awaited one by one: all thirteen join the same unit of work on SQLite
      const answers = await Promise.allSettled([
        ...good.slice(0, 6).map((k) => ingest(alert(k))),
        ingest(alert('boom')),
        ...good.slice(6).map((k) => ingest(alert(k))),
      ]);
      expect(answers[6]).toMatchObject({
        status: 'rejected',
        reason: { message: expect.stringMatching(/boom refused/) },
      });
      expect(
        answers
          .filter((_, i) => i !== 6)
          .map((a) => a.status === 'fulfilled' && a.value[0].action),
      ).toEqual(good.map(() => 'triggered'));
      await t.api.get('/v1/incidents/boom').expect(404);
      for (const k of good)
        expect((await occurrences(k)).status).toBe('triggered');
    } finally {
      await t.dataSource.query(
        'DROP TRIGGER refuse_boom' +
          (t.db.dialect === 'postgres' ? ' ON incidents' : ''),
      );
    }
  });
});

describe('Repeats answered before their write (e2e, restart)', () => {
  let dir: string;
  let db: TestDatabase;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-repeats-'));
    db = await createTestDatabase(`sqlite:${join(dir, 'alerting.sqlite')}`);
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes every answered repeat before a graceful shutdown completes', async () => {
    const first = await createTestApp({ db, env: { NOTIFIERS: 'log' } });
    const alert = {
      severity: 'INFO',
      alarmName: 'restart-repeat',
      currentValue: 1,
    };
    await first.api.post('/v1/alerts').send(alert).expect(202);
    const incidents = first.app.get(IncidentService);
    const repeats = await Promise.all(
      [2, 3, 4, 5].map((currentValue) =>
        incidents.ingest([
          {
            alert: { ...alert, currentValue } as never,
            meta: { source: 'http' },
          },
        ]),
      ),
    );
    expect(repeats.map((r) => r[0].action)).toEqual(
      repeats.map(() => 'deduplicated'),
    );
    // at once: the repeats were answered, their write is still queued
    await first.close();

    const second = await createTestApp({ db, env: { NOTIFIERS: 'log' } });
    try {
      const incident = (
        await second.api.get('/v1/incidents/restart-repeat').expect(200)
      ).body;
      expect(incident.occurrences).toBe(5);
    } finally {
      await second.close();
    }
  });
});
