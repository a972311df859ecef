import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type pg from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { alertingMigrations } from './migrations/index.js';
import { REST_CHECKPOINT_PAGES } from './checkpoint-pacer.js';

/** The name of the module's own TypeORM DataSource (`@InjectDataSource(ALERTING_DATA_SOURCE)`). */
export const ALERTING_DATA_SOURCE = 'alerting';

/** How long to wait for PostgreSQL before answering 503; unset waits forever. */
export interface DatabaseTimeouts {
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

/**
 * A pg client that leaves the pool once a statement timed out on our side: its answer may
 * still be due (a stalled network), or never come (a peer that vanished without a FIN),
 * and every statement queued behind it on that connection would wait as long. Built on
 * first use: `pg` is ~10 MB of memory that a service on SQLite never needs.
 */
let deadlineClient: typeof pg.Client | undefined;
function deadlineClientClass(): typeof pg.Client {
  if (deadlineClient) return deadlineClient;
  const { Client } = createRequire(import.meta.url)('pg') as typeof pg;
  class DeadlineClient extends Client {
    constructor(config: pg.ClientConfig & { connectDeadlineMs?: number }) {
      // The pool's connectionTimeoutMillis bounds its queue as well; a connection attempt
      // gets the shorter DATABASE_CONNECT_TIMEOUT of its own.
      super({
        ...config,
        connectionTimeoutMillis:
          config.connectDeadlineMs ?? config.connectionTimeoutMillis,
      });
    }

    override query(...args: unknown[]): any {
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      if (result instanceof Promise)
        result.catch((error: Error) => {
          // end() marks the client as ending at once, before the query's caller releases it
          if (error?.message === 'Query read timeout')
            this.end().catch(() => undefined);
        });
      return result;
    }
  }
  deadlineClient = DeadlineClient;
  return DeadlineClient;
}

/** Identity of each SQLite file as opened, to notice it deleted or replaced under the process. */
const openedFiles = new WeakMap<
  object,
  { file: string; dev: number; ino: number }
>();

/** What this module recorded when it opened `connection` on a SQLite file, if it did. */
function openedFile(
  connection: unknown,
): { file: string; dev: number; ino: number } | undefined {
  return typeof connection === 'object' && connection !== null
    ? openedFiles.get(connection)
    : undefined;
}

/** The connection is one this module opened on a SQLite file, so its pragmas are the module's to tune. */
export function isOwnSqliteFile(
  connection: unknown,
): connection is { pragma: (source: string) => unknown } {
  return openedFile(connection) !== undefined;
}

/** The path of the SQLite file this module opened on `connection`, if it did. */
export function ownSqliteFilePath(connection: unknown): string | undefined {
  return openedFile(connection)?.file;
}

/**
 * Why the SQLite file a connection opened can no longer be trusted, if it cannot: deleted
 * or replaced, it still answers from the old inode, and every write would vanish at the
 * next start. Undefined for PostgreSQL, in-memory SQLite and a host's own connection.
 */
export function sqliteFileProblem(connection: unknown): string | undefined {
  const opened = openedFile(connection);
  if (!opened) return undefined;
  try {
    const now = statSync(opened.file);
    if (now.ino === opened.ino && now.dev === opened.dev) return undefined;
    return `the SQLite file ${opened.file} was replaced while open`;
  } catch {
    return `the SQLite file ${opened.file} is gone (deleted or moved while open)`;
  }
}

/**
 * `mkdir -p`, one level at a time. Node 20's recursive `mkdirSync` never returns for a
 * path under `/proc` (mkdir answers ENOENT there, and it retries the parent forever).
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!existsSync(at)) {
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  // a file where a directory should be: mkdir names it (EEXIST)
  if (existsSync(at) && !statSync(at).isDirectory()) mkdirSync(at);
  for (const level of missing.reverse()) mkdirSync(level);
}

/**
 * Why the SQLite file `file` of `databaseUrl` cannot be used, or null: its directory
 * cannot be created (a file in the way, say) or it is a directory. Creates the directory
 * when it can.
 */
function sqlitePathProblem(databaseUrl: string, file: string): string | null {
  try {
    makeDirectory(dirname(file));
    if (statSync(file, { throwIfNoEntry: false })?.isDirectory())
      return `DATABASE_URL ${databaseUrl}: ${file} is a directory, not a SQLite file`;
  } catch (error) {
    return `DATABASE_URL ${databaseUrl}: cannot create the directory of the SQLite file (${dirname(file)}): ${(error as Error).message}`;
  }
  return null;
}

/**
 * TypeORM options for `DATABASE_URL` (`sqlite:<file>`, `sqlite::memory:`, `postgres://…`).
 * Entities are those the imported modules register (`autoLoadEntities`); every table, the
 * migrations' own included, is named `tablePrefix` + name.
 */
export function dataSourceOptions(
  databaseUrl: string,
  {
    tablePrefix = '',
    timeouts,
  }: { tablePrefix?: string; timeouts?: DatabaseTimeouts } = {},
): DataSourceOptions {
  const common = {
    name: ALERTING_DATA_SOURCE,
    migrations: alertingMigrations,
    migrationsRun: false,
    migrationsTableName: `${tablePrefix}migrations`,
    entityPrefix: tablePrefix,
    synchronize: false,
    logging: false,
  } as const;
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    const database = file === ':memory:' ? ':memory:' : file;
    const problem =
      database === ':memory:' ? null : sqlitePathProblem(databaseUrl, database);
    if (problem) throw new Error(problem);
    return {
      ...common,
      type: 'better-sqlite3',
      database,
      // WAL with synchronous=NORMAL survives a killed process (only an OS crash can lose
      // the last commits); busy_timeout covers the CLI reading the file beside the service.
      prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        // The checkpoint runs inside the commit that crosses the mark and syncs twice:
        // every request waiting on that commit waits for it. 250 pages instead of
        // SQLite's 1000 cut the p99 of ingest→PagerDuty at 200 alerts/s from 9-10 ms to
        // 6-8 ms for the same throughput. That is the threshold at rest: DatabaseService
        // raises it while writes queue (see CheckpointPacer).
        db.pragma(`wal_autocheckpoint = ${REST_CHECKPOINT_PAGES}`);
        // A transaction of several units sets a savepoint per unit, and SQLite journals
        // each page a savepoint changes to a temporary file it creates and deletes per
        // commit: 7 of the 20 write calls of a new incident under load. Kept in memory,
        // where it is a few pages per unit; the service's sorts are on indexes or LIMITed.
        db.pragma('temp_store = MEMORY');
        db.pragma('busy_timeout = 5000');
        if (database !== ':memory:') {
          const opened = resolve(database);
          const { dev, ino } = statSync(opened);
          openedFiles.set(db, { file: opened, dev, ino });
        }
      },
    };
  }
  return {
    ...common,
    type: 'postgres',
    url: databaseUrl,
    poolSize: 10,
    ...(timeouts
      ? {
          // The pool's wait for a free connection: under a burst the queue is legitimate,
          // so it may last a connection attempt plus a statement before it is a 503.
          connectTimeoutMS: timeouts.connectTimeoutMs + timeouts.queryTimeoutMs,
          extra: {
            connectDeadlineMs: timeouts.connectTimeoutMs,
            // The server cancels first and the connection stays usable; the client-side
            // deadline a second later catches a server or network that stopped answering.
            statement_timeout: timeouts.queryTimeoutMs,
            query_timeout: timeouts.queryTimeoutMs + 1000,
            Client: deadlineClientClass(),
          },
        }
      : {}),
  };
}

/**
 * The same options with no statement deadline, for migrations: an index build may take
 * minutes, and a second instance waits on the migration lock until the first is done.
 */
export function migrationOptions(
  options: DataSourceOptions,
): DataSourceOptions {
  if (options.type !== 'postgres') return options;
  // (the lock holds one connection while the migrations run on another)
  return { ...options, poolSize: 2, extra: {} };
}
