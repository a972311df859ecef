import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../database/data-source.options.js';
import { DatabaseService } from '../database/database.service.js';
import { OPEN_ALARMS_SQL } from '../cloudwatch/cloudwatch-alarm.source.js';
import { STALE_DEFAULT_SQL, STALE_OVERRIDE_SQL } from './reconciler.service.js';

// The reconciler runs these every tick on the service's one SQLite connection: a plan that
// scans the incidents table (resolved history included) stalls every request meanwhile.
describe('reconciler queries on SQLite', () => {
  let dataSource: DataSource;
  let db: DatabaseService;

  beforeAll(async () => {
    dataSource = new DataSource(dataSourceOptions('sqlite::memory:'));
    await dataSource.initialize();
    await dataSource.runMigrations();
    db = new DatabaseService(dataSource);
  });
  afterAll(() => dataSource.destroy());

  const plan = async (sql: string, params: unknown[]) =>
    (
      await db.query<{ detail: string }>(
        dataSource.manager,
        `EXPLAIN QUERY PLAN ${sql}`,
        params,
      )
    ).map((r) => r.detail);

  it.each([
    [
      'stale, default timeout',
      STALE_DEFAULT_SQL,
      ['z', '', '', 500],
      'ix_incidents_open_default',
    ],
    [
      'stale, own timeout',
      STALE_OVERRIDE_SQL,
      ['', '', 500],
      'ix_incidents_open_override',
    ],
    ['open alarms', OPEN_ALARMS_SQL, [], 'ix_incidents_open_alarm'],
  ])(
    '%s walks the partial index of open incidents',
    async (_, sql, params, index) => {
      const steps = await plan(sql, params);
      expect(steps).toHaveLength(1);
      expect(steps[0]).toMatch(
        new RegExp(`^(SEARCH|SCAN) incidents USING INDEX ${index}\\b`),
      );
    },
  );

  it('pages the default-timeout incidents in last-seen order, resolved and fresh ones left out', async () => {
    const row = (
      id: string,
      lastSeen: string,
      open: boolean,
      timeout: number | null,
    ) =>
      db.query(
        dataSource.manager,
        `INSERT INTO incidents (id, dedup_key, open_key, status, severity, alarm_name, environment,
           recommendations, links, custom_details, alert_timestamp, occurrences, ingest_source,
           created_at, last_seen_at, resolve_timeout_ms)
         VALUES ($1, $1, $2, $3, 'WARNING', 'a', 'test', '[]', '[]', '{}', $4, 1, 'http', $4, $4, $5)`,
        [
          id,
          open ? id : null,
          open ? 'triggered' : 'resolved',
          lastSeen,
          timeout,
        ],
      );
    await row('b', '2026-01-02', true, null);
    await row('a', '2026-01-02', true, null);
    await row('c', '2026-01-01', true, null);
    await row('old-resolved', '2025-01-01', false, null);
    await row('fresh', '2026-06-01', true, null);
    await row('own-timeout', '2025-01-01', true, 1000);
    const ids = async (after: [string, string], limit: number) =>
      (
        await db.query<{ id: string }>(dataSource.manager, STALE_DEFAULT_SQL, [
          '2026-03-01',
          ...after,
          limit,
        ])
      ).map((r) => r.id);
    expect(await ids(['', ''], 2)).toEqual(['c', 'a']);
    expect(await ids(['2026-01-02', 'a'], 2)).toEqual(['b']);
    expect(
      (
        await db.query<{ id: string }>(dataSource.manager, STALE_OVERRIDE_SQL, [
          '',
          '',
          10,
        ])
      ).map((r) => r.id),
    ).toEqual(['own-timeout']);
  });
});
