import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';

/**
 * Write transactions. SQLite has one connection, so TypeORM transactions that overlap
 * in time would interleave on it: they are serialized here, in process.
 */
@Injectable()
export class DatabaseService {
  readonly dialect: 'postgres' | 'sqlite';
  private tail: Promise<unknown> = Promise.resolve();

  constructor(@InjectDataSource() readonly dataSource: DataSource) {
    this.dialect = dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';
  }

  get isPostgres(): boolean {
    return this.dialect === 'postgres';
  }

  tx<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.isPostgres) return this.dataSource.transaction(work);
    const run = this.tail.then(() => this.dataSource.transaction(work));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Reads on SQLite also queue behind writes, so they never observe a half-done transaction. */
  read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.isPostgres) return work(this.dataSource.manager);
    const run = this.tail.then(() => work(this.dataSource.manager));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Raw SQL written with PostgreSQL placeholders (`$1`, reusable); rewritten to SQLite's
   * positional `?` with the parameters repeated in order of appearance.
   */
  query<T = Record<string, unknown>>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
    if (this.isPostgres) return manager.query(sql, params);
    const ordered: unknown[] = [];
    const rewritten = sql.replace(/\$(\d+)/g, (_, n: string) => {
      ordered.push(params[Number(n) - 1]);
      return '?';
    });
    return manager.query(rewritten, ordered);
  }

  /** `SELECT … FOR UPDATE` where the dialect has it; SQLite's serialized writes need none. */
  forUpdate(sql: string): string {
    return this.isPostgres ? `${sql} FOR UPDATE` : sql;
  }
}

export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
