import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../database/data-source.options.js';
import { DatabaseService } from '../database/database.service.js';
import { HELD_SQL } from './hold-release.service.js';

// The release pass runs every reconciler tick: it must read held open incidents only.
describe('release pass query on SQLite', () => {
  let dataSource: DataSource;
  let db: DatabaseService;

  beforeAll(async () => {
    dataSource = new DataSource(
      dataSourceOptions('sqlite::memory:', { tablePrefix: 'al_' }),
    );
    await dataSource.initialize();
    await dataSource.runMigrations();
    db = new DatabaseService(dataSource);
  });
  afterAll(() => dataSource.destroy());

  it('walks the partial index of held open incidents, under the table prefix too', async () => {
    const steps = (
      await db.query<{ detail: string }>(
        dataSource.manager,
        `EXPLAIN QUERY PLAN ${HELD_SQL}`,
        ['', 500],
      )
    ).map((r) => r.detail);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatch(
      /^(SEARCH|SCAN) al_incidents USING INDEX al_ix_incidents_held\b/,
    );
  });

  it('finds held open incidents only, in id order', async () => {
    const row = (id: string, open: boolean, held: boolean) =>
      db.query(
        dataSource.manager,
        `INSERT INTO incidents (id, dedup_key, open_key, status, severity, alarm_name, environment,
           recommendations, links, custom_details, alert_timestamp, occurrences, ingest_source,
           created_at, last_seen_at, suppressed_by)
         VALUES ($1, $1, $2, 'triggered', 'WARNING', 'a', 'test', '[]', '[]', '{}', 't', 1, 'http', 't', 't', $3)`,
        [
          id,
          open ? id : null,
          held ? '{"reason":"pageAfter","until":"x"}' : null,
        ],
      );
    await row('b', true, true);
    await row('a', true, true);
    await row('c', true, false);
    await row('d', false, true);
    const ids = async (after: string, limit: number) =>
      (
        await db.query<{ id: string }>(dataSource.manager, HELD_SQL, [
          after,
          limit,
        ])
      ).map((r) => r.id);
    expect(await ids('', 10)).toEqual(['a', 'b']);
    expect(await ids('a', 10)).toEqual(['b']);
    const [silences] = await db.query<{ n: number }>(
      dataSource.manager,
      'SELECT COUNT(*) AS n FROM silences',
      [],
    );
    expect(Number(silences.n)).toBe(0);
  });
});
