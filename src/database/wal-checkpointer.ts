import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the thread checkpoints while it runs. */
export const CHECKPOINT_INTERVAL_MS = 100;
/** The thread starts once this many commits land within a second... */
export const CHECKPOINTER_START_COMMITS = 10;
/** ... and stops after this long without a commit. */
export const CHECKPOINTER_IDLE_MS = 30_000;

// CommonJS, run by `new Worker(…, { eval: true })`: a file of its own would need a build
// step of its own to run under the test runner's TypeScript loader.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// better-sqlite3's SqliteError reaches the parent without its message: rethrow a plain one
const plain = (work) => {
  try {
    return work();
  } catch (error) {
    throw new Error(String(error && error.message ? error.message : error));
  }
};
const Database = require(workerData.driver);
const db = plain(() => new Database(workerData.file, { fileMustExist: true }));
plain(() => db.pragma('synchronous = NORMAL'));
// PASSIVE never waits on the writer: it copies what no reader still needs and returns.
const checkpoint = () => plain(() => db.pragma('wal_checkpoint(PASSIVE)'));
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointerOptions {
  intervalMs?: number;
  startCommits?: number;
  idleMs?: number;
  /** the thread started (true) or ended (false) */
  onRunning?: (running: boolean) => void;
  /** the thread failed; it is not started again */
  onError?: (error: Error) => void;
}

/**
 * Checkpoints a SQLite file's WAL from a thread of its own, on a connection of its own, so
 * copying committed pages into the database file (and syncing it) happens beside the event
 * loop instead of inside the commit that crosses `wal_autocheckpoint`. That threshold stays
 * as a bound the writer enforces itself should the thread fall behind. The writer restarts
 * the WAL from its beginning on its next commit once the thread has copied all of it.
 *
 * Started once commits are steady ({@link CHECKPOINTER_START_COMMITS} within a second),
 * stopped after {@link CHECKPOINTER_IDLE_MS} without one: a service at rest, or one that
 * commits now and then, holds no second V8 isolate (6–10 MB) and checkpoints on the commit
 * path as it did without the thread.
 */
export class WalCheckpointer {
  private worker?: Worker;
  private exited?: Promise<void>;
  private lastCommit = 0;
  private windowStart = 0;
  private windowCommits = 0;
  private idleTimer?: NodeJS.Timeout;
  private failed = false;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly startCommits: number;
  private readonly idleMs: number;

  constructor(
    private readonly file: string,
    private readonly options: WalCheckpointerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.startCommits = options.startCommits ?? CHECKPOINTER_START_COMMITS;
    this.idleMs = options.idleMs ?? CHECKPOINTER_IDLE_MS;
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** After each commit: starts the thread once commits are steady. */
  committed(): void {
    const now = Date.now();
    this.lastCommit = now;
    if (this.worker || this.failed || this.stopped) return;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCommits = 0;
    }
    if (++this.windowCommits < this.startCommits) return;
    this.windowCommits = 0;
    let worker: Worker;
    try {
      worker = new Worker(THREAD_SOURCE, {
        eval: true,
        workerData: {
          file: this.file,
          driver: createRequire(import.meta.url).resolve('better-sqlite3'),
          intervalMs: this.intervalMs,
        },
        // its own work allocates next to nothing; the defaults would let it reserve more
        resourceLimits: {
          maxOldGenerationSizeMb: 16,
          maxYoungGenerationSizeMb: 1,
        },
      });
    } catch (error) {
      // no thread to be had (or no driver to load in it): not tried again on every commit
      this.failed = true;
      this.options.onError?.(
        error instanceof Error ? error : new Error(String(error)),
      );
      return;
    }
    worker.unref();
    this.worker = worker;
    worker.once('error', (error) => {
      this.failed = true;
      this.options.onError?.(error);
    });
    this.exited = new Promise((resolve) =>
      worker.once('exit', () => {
        if (this.worker === worker) this.ended();
        resolve();
      }),
    );
    this.idleTimer = setInterval(
      () => {
        if (Date.now() - this.lastCommit >= this.idleMs) void this.halt();
      },
      Math.max(10, Math.floor(this.idleMs / 4)),
    );
    this.idleTimer.unref();
    this.options.onRunning?.(true);
  }

  /** Ends the thread for good (the module is closing): one last checkpoint, then it exits. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.halt();
  }

  private async halt(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const exited = this.exited;
    this.ended();
    worker.postMessage('stop');
    // a checkpoint in progress finishes first; a thread that does not exit is ended
    const timer = setTimeout(() => void worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }

  private ended(): void {
    clearInterval(this.idleTimer);
    this.worker = undefined;
    this.options.onRunning?.(false);
  }
}
