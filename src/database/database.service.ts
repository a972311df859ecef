import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  DataSource,
  type EntityManager,
  type EntityTarget,
  type ObjectLiteral,
} from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { BUSY_CHECKPOINT_PAGES, CheckpointPacer } from './checkpoint-pacer.js';
import {
  ALERTING_DATA_SOURCE,
  isOwnSqliteFile,
  ownSqliteFilePath,
  sqliteFileProblem,
} from './data-source.options.js';
import { DatabaseUnavailableError } from './database-unavailable.js';
import { tablePrefixOf, withTablePrefix } from './table-prefix.js';
import { WalCheckpointer } from './wal-checkpointer.js';

type Work<T> = (manager: EntityManager) => Promise<T>;
interface Queued {
  kind: 'tx' | 'read';
  work: Work<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** `false`: checkpoint SQLite's WAL on the commit path only, without a thread (tests of the pacer). */
export const SQLITE_CHECKPOINT_THREAD = Symbol('SQLITE_CHECKPOINT_THREAD');

/** At most this many queued write transactions share one SQLite commit. */
const MAX_GROUP = 256;

/**
 * Write transactions. On PostgreSQL each is a TypeORM transaction on the pool. SQLite has
 * one connection, so overlapping transactions would interleave on it: they queue here,
 * and whatever queued while the previous commit ran is committed together (group
 * commit), each in a savepoint so one failing unit rolls back alone (a unit committed
 * alone needs none). A caller's promise settles only after the commit that holds its work.
 */
@Injectable()
export class DatabaseService implements OnModuleDestroy {
  private readonly logger = new Logger(DatabaseService.name);
  readonly dialect: 'postgres' | 'sqlite';
  private readonly queue: Queued[] = [];
  private readonly tables = new Map<EntityTarget<ObjectLiteral>, TableSql>();
  private draining = false;
  private readonly statements = new Map<string, RawStatement>();
  private readonly sqliteForms = new Map<string, SqliteForm>();
  private statementsOf?: RawSqlite;
  /** the table prefix; raw SQL is rewritten once per distinct statement */
  readonly tablePrefix: string;
  private readonly prefixed = new Map<string, string>();
  /** null: not a SQLite file this module opened, so its checkpoints are not ours to pace */
  private pacer?: CheckpointPacer | null;
  private checkpointer?: WalCheckpointer;

  constructor(
    @InjectDataSource(ALERTING_DATA_SOURCE) readonly dataSource: DataSource,
    @Optional()
    @Inject(SQLITE_CHECKPOINT_THREAD)
    private readonly checkpointThread: boolean = true,
  ) {
    this.dialect =
      dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';
    this.tablePrefix = tablePrefixOf(dataSource);
  }

  /** `sql` with the table prefix applied (the same string when there is none). */
  sql(sql: string): string {
    if (!this.tablePrefix) return sql;
    let out = this.prefixed.get(sql);
    if (out === undefined) {
      out = withTablePrefix(sql, this.tablePrefix);
      // batch INSERTs differ in row count: keep the cache bounded (oldest out first)
      if (this.prefixed.size > 500)
        this.prefixed.delete(this.prefixed.keys().next().value!);
      this.prefixed.set(sql, out);
    }
    return out;
  }

  get isPostgres(): boolean {
    return this.dialect === 'postgres';
  }

  tx<T>(work: Work<T>): Promise<T> {
    if (this.isPostgres) return this.dataSource.transaction(work);
    return this.enqueue('tx', work);
  }

  /** Reads on SQLite also queue behind writes, so they never observe a half-done transaction. */
  read<T>(work: Work<T>): Promise<T> {
    if (this.isPostgres) return work(this.dataSource.manager);
    return this.enqueue('read', work);
  }

  private enqueue<T>(kind: Queued['kind'], work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        kind,
        work,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      if (!this.draining) {
        this.draining = true;
        // Start after the current I/O phase: every request parsed in it joins this commit.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        if (this.queue[0].kind === 'read') {
          const item = this.queue.shift()!;
          await item
            .work(this.dataSource.manager)
            .then(item.resolve, item.reject);
          continue;
        }
        const group: Queued[] = [];
        while (group.length < MAX_GROUP && this.queue[0]?.kind === 'tx')
          group.push(this.queue.shift()!);
        await this.commitGroup(group);
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Throws when the database cannot serve: not connected, its SQLite file deleted or
   * replaced, or not answering `SELECT 1`. For readiness probes.
   */
  async ping(): Promise<void> {
    if (!this.dataSource.isInitialized)
      throw new DatabaseUnavailableError('the database connection is closed');
    this.assertSqliteFile();
    await this.dataSource.query('SELECT 1');
  }

  private get sqliteConnection(): unknown {
    return (this.dataSource.driver as { databaseConnection?: unknown })
      .databaseConnection;
  }

  private assertSqliteFile(): void {
    const problem = sqliteFileProblem(this.sqliteConnection);
    if (problem) throw new DatabaseUnavailableError(problem);
  }

  async onModuleDestroy(): Promise<void> {
    await this.checkpointer?.stop();
  }

  /**
   * After each commit on a SQLite file the module opened: starts the checkpoint thread if
   * it is not running, and tells the pacer how many units the commit held. A tuning knob,
   * never a failure.
   */
  private paceCheckpoints(units: number): void {
    if (this.pacer === undefined) this.startPacing();
    try {
      this.pacer?.committed(units);
      this.checkpointer?.committed();
    } catch {
      // the connection closed under us: the next commit says so, not this
    }
  }

  private startPacing(): void {
    const file = ownSqliteFilePath(this.sqliteConnection);
    if (!file) {
      this.pacer = null;
      return;
    }
    this.pacer = new CheckpointPacer((pages) => this.setCheckpointPages(pages));
    if (!this.checkpointThread) return;
    this.checkpointer = new WalCheckpointer(file, {
      onRunning: () => {
        try {
          this.setCheckpointPages(this.pacer!.pages);
        } catch {
          // closed: nothing left to checkpoint on the commit path
        }
      },
      onError: (error) =>
        this.logger.warn(
          `WAL checkpoints are back on the commit path: the checkpoint thread failed (${error.message})`,
        ),
    });
  }

  /**
   * The writer's own checkpoint threshold: while the thread checkpoints it is only a bound
   * (the thread copies the pages long before), otherwise the pacer's.
   */
  private setCheckpointPages(pacerPages: number): void {
    const connection = this.sqliteConnection;
    if (!isOwnSqliteFile(connection)) return;
    const pages = this.checkpointer?.running
      ? BUSY_CHECKPOINT_PAGES
      : pacerPages;
    connection.pragma(`wal_autocheckpoint = ${pages}`);
  }

  private async commitGroup(group: Queued[]): Promise<void> {
    try {
      // A commit into a deleted file would be acknowledged, then gone at the next start.
      this.assertSqliteFile();
    } catch (error) {
      for (const item of group) item.reject(error);
      return;
    }
    const runner = this.dataSource.createQueryRunner();
    const outcomes: (
      { ok: true; value: unknown } | { ok: false; error: unknown }
    )[] = [];
    try {
      await runner.startTransaction();
      const m = runner.manager;
      if (group.length === 1) {
        // A unit alone needs no savepoint: its failure rolls back the whole transaction,
        // which holds nothing else (SAVEPOINT and RELEASE were 8 % of a unit's time in a
        // single-alert load).
        outcomes.push({ ok: true, value: await group[0].work(m) });
      } else
        for (const item of group) {
          await this.query(m, 'SAVEPOINT unit', []);
          try {
            const value = await item.work(m);
            await this.query(m, 'RELEASE unit', []);
            outcomes.push({ ok: true, value });
          } catch (error) {
            await this.query(m, 'ROLLBACK TO unit', []);
            await this.query(m, 'RELEASE unit', []);
            outcomes.push({ ok: false, error });
          }
        }
      await runner.commitTransaction();
      this.paceCheckpoints(group.length);
    } catch (error) {
      await runner.rollbackTransaction().catch(() => undefined);
      for (const item of group) item.reject(error);
      return;
    } finally {
      await runner.release();
    }
    group.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }

  /**
   * Raw SQL written with PostgreSQL placeholders (`$1`, reusable); rewritten to SQLite's
   * positional `?` with the parameters repeated in order of appearance.
   */
  async query<T = Record<string, unknown>>(
    manager: EntityManager,
    rawSql: string,
    params: unknown[],
  ): Promise<T[]> {
    const sql = this.sql(rawSql);
    if (this.isPostgres) {
      // TypeORM answers a PostgreSQL UPDATE/DELETE with [rows, affected], not rows: an
      // `UPDATE … RETURNING` (the dispatcher's claim) would otherwise yield no usable ids.
      const answer = await manager.query(sql, params);
      return /^\s*(UPDATE|DELETE)\b/i.test(sql) ? answer[0] : answer;
    }
    const form = this.sqliteForm(sql);
    const ordered =
      form.sequential && form.order.length === params.length
        ? params
        : form.order.map((n) => params[n]);
    return (
      this.sqliteRun(form.sql, ordered) ?? manager.query(form.sql, ordered)
    );
  }

  /**
   * `$n` placeholders as SQLite's `?`, and the parameter order that goes with them
   * (`sequential`: `$1`, `$2`, … each once, in order). Worked out once per statement:
   * rewriting a batch INSERT's hundreds of placeholders on every call cost more than
   * SQLite's insert itself.
   */
  private sqliteForm(sql: string): SqliteForm {
    let form = this.sqliteForms.get(sql);
    if (!form) {
      const order: number[] = [];
      const rewritten = sql.replace(/\$(\d+)/g, (_, n: string) => {
        order.push(Number(n) - 1);
        return '?';
      });
      form = {
        sql: rewritten,
        order,
        sequential: order.every((n, i) => n === i),
      };
      // batch INSERTs differ in row count: keep the cache bounded (oldest out first)
      if (this.sqliteForms.size > 500)
        this.sqliteForms.delete(this.sqliteForms.keys().next().value!);
      this.sqliteForms.set(sql, form);
    }
    return form;
  }

  /**
   * A statement straight on better-sqlite3's one connection (so inside whatever
   * transaction TypeORM opened on it), prepared once: TypeORM's runner wraps every call in
   * subscriber broadcasts and promises that cost as much as the insert itself. Undefined
   * when the driver is not better-sqlite3 (a host app's own connection).
   */
  private sqliteRun<T>(
    sql: string,
    params: unknown[],
  ): Promise<T[]> | undefined {
    const connection = (
      this.dataSource.driver as { databaseConnection?: RawSqlite }
    ).databaseConnection;
    if (typeof connection?.prepare !== 'function') return undefined;
    if (connection !== this.statementsOf) {
      // the DataSource was re-initialized: statements of the old connection are dead
      this.statements.clear();
      this.statementsOf = connection;
    }
    let statement = this.statements.get(sql);
    if (!statement) {
      try {
        statement = connection.prepare(sql);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      this.statements.set(sql, statement);
      // batch INSERTs differ in row count: keep the cache bounded (oldest out first)
      if (this.statements.size > 200)
        this.statements.delete(this.statements.keys().next().value!);
    }
    try {
      const bound = params.map((p) => (typeof p === 'boolean' ? Number(p) : p));
      if (statement.reader)
        return Promise.resolve(statement.all(...bound) as T[]);
      statement.run(...bound);
      return Promise.resolve([]);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * INSERT of an entity's plain object through SQL generated once from its TypeORM
   * metadata: on the ingest hot path the query builder cost more than SQLite itself.
   */
  async insert<T extends ObjectLiteral>(
    manager: EntityManager,
    entity: EntityTarget<T>,
    values: Partial<T>,
  ): Promise<void> {
    const table = this.table(entity);
    await this.query(
      manager,
      table.insertSql,
      table.insertable.map((c) =>
        toDatabase(c, values[c.propertyName as keyof T]),
      ),
    );
  }

  /** One multi-row INSERT per chunk: a batch of alerts costs a few statements, not four per alert. */
  async insertMany<T extends ObjectLiteral>(
    manager: EntityManager,
    entity: EntityTarget<T>,
    rows: Partial<T>[],
  ): Promise<void> {
    const table = this.table(entity);
    const width = table.insertable.length;
    // SQLite binds at most 32 766 parameters a statement
    const chunk = Math.max(1, Math.floor(30_000 / width));
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk);
      let sql = table.insertRows.get(part.length);
      if (!sql) {
        const values = part
          .map(
            (_, r) =>
              `(${table.insertable.map((_, c) => `$${r * width + c + 1}`).join(', ')})`,
          )
          .join(', ');
        sql = `INSERT INTO ${table.name} (${table.insertable.map((c) => c.databaseName).join(', ')}) VALUES ${values}`;
        // the same string each time: the caches behind query() find it without rehashing
        if (table.insertRows.size < 100) table.insertRows.set(part.length, sql);
      }
      await this.query(
        manager,
        sql,
        part.flatMap((row) =>
          table.insertable.map((c) =>
            toDatabase(c, row[c.propertyName as keyof T]),
          ),
        ),
      );
    }
  }

  /** The entity object of a raw row (`SELECT *`), JSON columns parsed, numbers as numbers. */
  fromRow<T extends ObjectLiteral>(
    entity: EntityTarget<T>,
    row: Record<string, unknown>,
  ): T {
    const out: Record<string, unknown> = {};
    for (const c of this.table(entity).columns)
      out[c.propertyName] = fromDatabase(c, row[c.databaseName]);
    return out as T;
  }

  tableName(entity: EntityTarget<ObjectLiteral>): string {
    return this.table(entity).name;
  }

  private table(entity: EntityTarget<ObjectLiteral>): TableSql {
    let table = this.tables.get(entity);
    if (!table) {
      const meta = this.dataSource.getMetadata(entity);
      const insertable = meta.columns.filter((c) => !c.isGenerated);
      table = {
        name: meta.tableName,
        columns: meta.columns,
        insertable,
        insertSql: `INSERT INTO ${meta.tableName} (${insertable.map((c) => c.databaseName).join(', ')}) VALUES (${insertable
          .map((_, i) => `$${i + 1}`)
          .join(', ')})`,
        insertRows: new Map(),
      };
      this.tables.set(entity, table);
    }
    return table;
  }

  /** `SELECT … FOR UPDATE` where the dialect has it; SQLite's serialized writes need none. */
  forUpdate(sql: string): string {
    return this.isPostgres ? `${sql} FOR UPDATE` : sql;
  }
}

/**
 * The writes of one transaction: INSERTs are buffered and flushed as multi-row
 * statements; any other statement, and the end of the unit of work, flushes them first,
 * so reads and updates always see every row written before them.
 */
export class TxWriter {
  private readonly pending = new Map<
    EntityTarget<ObjectLiteral>,
    Partial<ObjectLiteral>[]
  >();

  constructor(
    private readonly db: DatabaseService,
    readonly manager: EntityManager,
  ) {}

  insert<T extends ObjectLiteral>(
    entity: EntityTarget<T>,
    values: Partial<T>,
  ): void {
    const rows = this.pending.get(entity) ?? [];
    rows.push(values);
    this.pending.set(entity, rows);
  }

  async query<T = Record<string, unknown>>(
    sql: string,
    params: unknown[],
  ): Promise<T[]> {
    await this.flush();
    return this.db.query<T>(this.manager, sql, params);
  }

  async flush(): Promise<void> {
    const batches = [...this.pending.entries()];
    this.pending.clear();
    for (const [entity, rows] of batches)
      await this.db.insertMany(this.manager, entity, rows);
  }
}

interface RawStatement {
  reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): unknown;
}
interface RawSqlite {
  prepare(sql: string): RawStatement;
}

interface SqliteForm {
  sql: string;
  order: number[];
  sequential: boolean;
}

interface TableSql {
  name: string;
  columns: ColumnMetadata[];
  insertable: ColumnMetadata[];
  insertSql: string;
  /** multi-row INSERTs by row count */
  insertRows: Map<number, string>;
}

function toDatabase(column: ColumnMetadata, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  return column.type === 'simple-json' ? JSON.stringify(value) : value;
}

function fromDatabase(column: ColumnMetadata, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (column.type === 'simple-json')
    return typeof value === 'string' ? JSON.parse(value) : value;
  // PostgreSQL hands bigint (bigserial ids, resolve timeouts) back as strings
  if (
    typeof value === 'string' &&
    (column.type === 'integer' ||
      column.type === 'bigint' ||
      column.generationStrategy === 'increment')
  ) {
    return Number(value);
  }
  return value;
}

function errorCode(error: unknown): string | undefined {
  const e = error as { code?: string; driverError?: { code?: string } };
  return e?.driverError?.code ?? e?.code;
}

export function isUniqueViolation(error: unknown): boolean {
  const code = errorCode(error);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Worth running the whole transaction again: a lost race on the open-key index, or
 * PostgreSQL aborting one of two batches that wait on each other's keys (deadlock,
 * serialization failure).
 */
export function isRetryableConflict(error: unknown): boolean {
  const code = errorCode(error);
  return isUniqueViolation(error) || code === '40P01' || code === '40001';
}
