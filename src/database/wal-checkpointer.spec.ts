import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WalCheckpointer } from './wal-checkpointer.js';

// A real SQLite file whose writer never checkpoints itself: whatever reaches the database
// file (rather than staying in the WAL) was copied there by the thread.
describe('WalCheckpointer', () => {
  let dir: string;
  let file: string;
  let writer: Database.Database;
  let checkpointer: WalCheckpointer | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-checkpointer-'));
    file = join(dir, 'alerting.sqlite');
    writer = new Database(file);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('CREATE TABLE t (v TEXT NOT NULL)');
  });
  afterEach(async () => {
    await checkpointer?.stop();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (rows: number) => {
    const insert = writer.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < rows; i++) insert.run(`${i}`.padEnd(4000, 'x'));
  };
  const fileSize = () => statSync(file).size;

  it('copies committed pages into the database file, stops after an idle spell and starts again on the next commit', async () => {
    const running: boolean[] = [];
    checkpointer = new WalCheckpointer(file, {
      intervalMs: 20,
      startCommits: 1,
      idleMs: 300,
      onRunning: (r) => running.push(r),
    });
    write(100);
    const before = fileSize();
    expect(before).toBeLessThan(100 * 4000);

    checkpointer.committed();
    expect(checkpointer.running).toBe(true);
    await vi.waitFor(() => expect(fileSize()).toBeGreaterThan(100 * 4000), {
      timeout: 5000,
    });

    await vi.waitFor(() => expect(checkpointer!.running).toBe(false), {
      timeout: 5000,
    });
    expect(running).toEqual([true, false]);

    write(100);
    const idle = fileSize();
    await new Promise((r) => setTimeout(r, 200));
    expect(fileSize()).toBe(idle);

    checkpointer.committed();
    await vi.waitFor(() => expect(fileSize()).toBeGreaterThan(200 * 4000), {
      timeout: 5000,
    });
    expect(running).toEqual([true, false, true]);
    // what the thread copied is what was committed
    const reader = new Database(file, { readonly: true });
    expect(reader.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({
      n: 200,
    });
    reader.close();
  });

  it('starts only once commits are steady: ten within a second', () => {
    checkpointer = new WalCheckpointer(file);
    for (let i = 0; i < 9; i++) checkpointer.committed();
    expect(checkpointer.running).toBe(false);
    checkpointer.committed();
    expect(checkpointer.running).toBe(true);
  });

  it('ends for good once stopped', async () => {
    checkpointer = new WalCheckpointer(file, {
      intervalMs: 20,
      startCommits: 1,
    });
    checkpointer.committed();
    await checkpointer.stop();
    expect(checkpointer.running).toBe(false);

    write(50);
    checkpointer.committed();
    expect(checkpointer.running).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(fileSize()).toBeLessThan(50 * 4000);
  });

  it('reports a thread that cannot open its file and does not start it again', async () => {
    const errors: Error[] = [];
    const running: boolean[] = [];
    checkpointer = new WalCheckpointer(join(dir, 'missing.sqlite'), {
      startCommits: 1,
      onError: (e) => errors.push(e),
      onRunning: (r) => running.push(r),
    });
    checkpointer.committed();
    await vi.waitFor(() => expect(checkpointer!.running).toBe(false));
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/unable to open database file/),
    ]);

    checkpointer.committed();
    expect(checkpointer.running).toBe(false);
    expect(running).toEqual([true, false]);
  });
});
