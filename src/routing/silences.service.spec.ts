import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../database/data-source.options.js';
import { DatabaseService, TxWriter } from '../database/database.service.js';
import { Silence } from './silence.entity.js';
import { SilencesService } from './silences.service.js';

const AT = '2026-11-30T06:10:00.000Z';
const UNTIL = '2026-12-01T06:10:00.000Z';
const alert = (alarmName: string) => ({
  severity: 'ERROR',
  alarmName,
  metricName: null,
  dedupKey: alarmName,
  environment: 'production',
  source: null,
  component: null,
  group: null,
  class: null,
  via: 'http',
  customDetails: {},
});

// On PostgreSQL a reload's statements each see their own snapshot: another instance's
// silence can commit between them. It must not end up "known" without being loaded.
describe('SilencesService reload racing a new silence', () => {
  let dataSource: DataSource;
  let db: DatabaseService;
  let silences: SilencesService;
  const insert = (id: string, alarmName: string) =>
    db.query(
      dataSource.manager,
      `INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 'c', 'test', $3, $3)`,
      [id, JSON.stringify({ alarmName }), AT, UNTIL],
    );

  beforeAll(async () => {
    dataSource = new DataSource({
      ...dataSourceOptions('sqlite::memory:'),
      entities: [Silence],
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    db = new DatabaseService(dataSource);
    silences = new SilencesService(db, { now: () => new Date(AT) });
  });
  afterAll(() => dataSource.destroy());

  it('applies a silence committed in the middle of a reload from the next refresh on', async () => {
    await insert('s-1', 'first');
    await silences.reload();

    // the other instance's silence commits right after the reload's first statement
    const query = db.query.bind(db);
    let statements = 0;
    const spy = vi
      .spyOn(db, 'query')
      .mockImplementation(async (m, sql, params) => {
        const rows = await query(m, sql, params);
        if (++statements === 1) await query(m, INSERT_RACING, RACING);
        return rows;
      });
    const INSERT_RACING = `INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 'c', 'test', $3, $3)`;
    const RACING = ['s-2', JSON.stringify({ alarmName: 'held' }), AT, UNTIL];
    await silences.reload();
    spy.mockRestore();

    await silences.refreshIn(new TxWriter(db, dataSource.manager));
    expect(silences.matching(alert('held'), AT)?.id).toBe('s-2');
    expect(silences.matching(alert('first'), AT)?.id).toBe('s-1');
  });
});
