import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Incident } from '../src/alerting/incident.entity.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  pagerDutyEnv,
  type TestApp,
} from './support/test-app.js';

/**
 * The SQLite side of a database outage: the file locked by another process (a backup, the
 * CLI, an operator's shell), and the file deleted under the running service. Explicitly on
 * a file, so it runs the same in both lanes.
 */
describe('SQLite outage (e2e)', () => {
  const pd = new FakePagerDuty();
  let dir: string;
  let file: string;
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-outage-'));
    file = join(dir, 'alerting.sqlite');
    t = await createTestApp({
      db: { url: `sqlite:${file}`, dialect: 'sqlite', drop: async () => {} },
      env: pagerDutyEnv(pd),
    });
  });
  afterEach(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterAll(() => pd.stop());

  /**
   * Runs `during` while another process holds the file's write lock (SQLite waits 5 s
   * for it, then gives up). The lock is taken as soon as a commit of ours lets go.
   */
  async function whileWriteLocked<T>(during: () => Promise<T>): Promise<T> {
    const other = new Database(file);
    other.pragma('busy_timeout = 0');
    for (;;) {
      try {
        other.exec('BEGIN EXCLUSIVE');
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    try {
      return await during();
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
  }

  it('answers 503 with Retry-After while another process holds the write lock, then takes the alerts once it is released', async () => {
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: 'before-lock' })
      .expect(202);
    // concurrently: one commit group, one busy wait
    const answers = await whileWriteLocked(() =>
      Promise.all([
        t.api
          .post('/v1/alerts')
          .send({ severity: 'critical', alarmName: 'while-locked' }),
        t.api
          .post('/v1/alerts/templates/high-latency')
          .send({ currentValue: 900, threshold: 500 }),
        t.api.post('/v1/incidents/before-lock/acknowledge'),
      ]),
    );
    for (const res of answers) {
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: expect.stringContaining('retry'),
      });
    }
    const stored = await t.dataSource.getRepository(Incident).find();
    expect(stored.map((i) => [i.dedupKey, i.status])).toEqual([
      ['before-lock', 'triggered'],
    ]);

    await t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: 'while-locked' })
      .expect(202);
    await t.api.post('/v1/incidents/before-lock/acknowledge').expect(200);
    await pd.waitFor((r) => r.some((e) => e.dedupKey === 'while-locked'));
  });

  it('writes the repeats it answered while the write lock was held elsewhere once it is released', async () => {
    const key = 'repeated-while-locked';
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'warning', alarmName: key })
      .expect(202);
    // the lock holder starts first; the repeats are answered from memory meanwhile
    const locked = whileWriteLocked(
      () => new Promise((r) => setTimeout(r, 6_000)),
    );
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 3; i++) {
      const res = await t.api
        .post('/v1/alerts')
        .send({ severity: 'warning', alarmName: key });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.body.results[0].action).toBe('deduplicated');
    }
    await locked;

    const incidents = t.dataSource.getRepository(Incident);
    await vi.waitFor(
      async () =>
        expect(
          (await incidents.findOneByOrFail({ dedupKey: key })).occurrences,
        ).toBe(4),
      { timeout: 15_000, interval: 100 },
    );
  }, 60_000);

  it('turns not ready, and refuses writes it would lose, once the file is deleted under it', async () => {
    await t.http().get('/health/ready').expect(200);
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(`${file}${suffix}`, { force: true });

    const ready = await t.http().get('/health/ready').expect(503);
    expect(ready.body.error.database).toMatchObject({
      status: 'down',
      message: expect.stringContaining('is gone'),
    });
    // each one refused at once, the second as surely as the first
    for (const key of ['into-the-void', 'into-the-void-again']) {
      const started = Date.now();
      const alert = await t.api
        .post('/v1/alerts')
        .timeout(5_000)
        .send({ severity: 'critical', alarmName: key });
      expect(alert.status).toBe(503);
      expect(Number(alert.headers['retry-after'])).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(pd.received.some((e) => e.dedupKey === key)).toBe(false);
    }
  });
});
