import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import {
  BUSY_CHECKPOINT_PAGES,
  REST_CHECKPOINT_PAGES,
} from './checkpoint-pacer.js';
import { dataSourceOptions } from './data-source.options.js';
import { DatabaseService, isUniqueViolation } from './database.service.js';

// SQLite's write transactions queue and share one commit: each caller's work must still
// succeed or fail whole and on its own, whether it commits alone or with others.
describe('DatabaseService group commit on SQLite', () => {
  let dataSource: DataSource;
  let db: DatabaseService;

  beforeEach(async () => {
    dataSource = new DataSource(dataSourceOptions('sqlite::memory:'));
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE t (k TEXT NOT NULL UNIQUE)');
    db = new DatabaseService(dataSource);
  });
  afterEach(() => dataSource.destroy());

  const keys = async () =>
    (await dataSource.query<{ k: string }[]>('SELECT k FROM t ORDER BY k')).map(
      (r) => r.k,
    );
  const put = (k: string) =>
    db.tx((m) => db.query(m, 'INSERT INTO t (k) VALUES ($1)', [k]));

  it('rolls back a unit that commits alone and fails after writing, and keeps working', async () => {
    const failing = db.tx(async (m) => {
      await db.query(m, 'INSERT INTO t (k) VALUES ($1)', ['written']);
      throw new Error('after the write');
    });

    await expect(failing).rejects.toThrow('after the write');
    expect(await keys()).toEqual([]);
    await put('next');
    expect(await keys()).toEqual(['next']);
  });

  it('rolls back only the failing unit of a shared commit', async () => {
    const units = [
      put('a'),
      db.tx(async (m) => {
        await db.query(m, 'INSERT INTO t (k) VALUES ($1)', ['b']);
        throw new Error('b fails');
      }),
      put('c'),
    ];

    const outcomes = await Promise.allSettled(units);

    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(await keys()).toEqual(['a', 'c']);
  });

  it('keeps the other writes of a unit alone that recovers from a failed statement', async () => {
    await put('taken');

    const value = await db.tx(async (m) => {
      await db.query(m, 'INSERT INTO t (k) VALUES ($1)', ['mine']);
      try {
        await db.query(m, 'INSERT INTO t (k) VALUES ($1)', ['taken']);
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
      return 'recovered';
    });

    expect(value).toBe('recovered');
    expect(await keys()).toEqual(['mine', 'taken']);
  });
});

describe('the SQLite connection the service opens on a file', () => {
  let dir: string;
  let file: string;
  let dataSource: DataSource;
  let db: DatabaseService | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-pragmas-'));
    file = join(dir, 'alerting.sqlite');
    dataSource = new DataSource(dataSourceOptions(`sqlite:${file}`));
    await dataSource.initialize();
  });
  afterEach(async () => {
    await db?.onModuleDestroy();
    db = undefined;
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const pragma = async (name: string) =>
    Object.values(
      (await dataSource.query<Record<string, unknown>[]>(`PRAGMA ${name}`))[0],
    )[0];

  it('is durable against a killed process, checkpoints often, and journals savepoints in memory', async () => {
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('synchronous')).toBe(1); // NORMAL
    expect(await pragma('wal_autocheckpoint')).toBe(250);
    expect(await pragma('busy_timeout')).toBe(5000);
    // 2 = MEMORY: no temporary file created and deleted by every grouped commit
    expect(await pragma('temp_store')).toBe(2);
  });

  it('without the checkpoint thread, checkpoints less often while writes queue behind each commit, and often again once they stop', async () => {
    const db = new DatabaseService(dataSource, false);
    await dataSource.query('CREATE TABLE t (k TEXT NOT NULL)');
    const put = (k: string) =>
      db.tx((m) => db.query(m, 'INSERT INTO t (k) VALUES ($1)', [k]));

    // eight writers at once: each commit holds the eight units that queued together
    for (let round = 0; round < 20; round++)
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => put(`busy-${round}-${i}`)),
      );
    expect(await pragma('wal_autocheckpoint')).toBe(BUSY_CHECKPOINT_PAGES);

    for (let i = 0; i < 40; i++) await put(`alone-${i}`);
    expect(await pragma('wal_autocheckpoint')).toBe(REST_CHECKPOINT_PAGES);
  });

  it('copies committed pages into the file from a thread once it commits, its own threshold then only a bound', async () => {
    const service = new DatabaseService(dataSource);
    db = service;
    await dataSource.query('CREATE TABLE t (k TEXT NOT NULL)');
    const emptyFile = statSync(file).size;
    // about 40 pages: under the 250 at which the commit itself would checkpoint
    for (let i = 0; i < 40; i++)
      await service.tx((m) =>
        service.query(m, 'INSERT INTO t (k) VALUES ($1)', [
          `${i}`.padEnd(4000),
        ]),
      );

    expect(await pragma('wal_autocheckpoint')).toBe(BUSY_CHECKPOINT_PAGES);
    await vi.waitFor(
      () => expect(statSync(file).size).toBeGreaterThan(emptyFile + 40 * 4000),
      { timeout: 5000 },
    );

    // closing ends the thread: the commit path checkpoints on its own again
    await service.onModuleDestroy();
    expect(await pragma('wal_autocheckpoint')).toBe(REST_CHECKPOINT_PAGES);
  });
});
