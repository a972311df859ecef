import { createHash } from 'node:crypto';
import type { Provider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DatabaseService } from './database.service.js';

export const DISTRIBUTED_LOCK = Symbol('DISTRIBUTED_LOCK');

export type LockOutcome<T> = { acquired: true; value: T } | { acquired: false };

/** A lock shared by every instance on the same database, for work that must run once at a time. */
export interface DistributedLock {
  /** Runs `work` while holding `name`; does not wait when another holder has it. */
  tryWithLock<T>(name: string, work: () => Promise<T>): Promise<LockOutcome<T>>;
}

/**
 * `pg_try_advisory_xact_lock` in a transaction kept open for the whole of `work`: the lock
 * goes away with the transaction, so a killed instance can never leave it held.
 */
export class PostgresDistributedLock implements DistributedLock {
  constructor(private readonly dataSource: DataSource) {}

  tryWithLock<T>(
    name: string,
    work: () => Promise<T>,
  ): Promise<LockOutcome<T>> {
    return this.dataSource.transaction(async (m) => {
      const [row] = (await m.query(
        'SELECT pg_try_advisory_xact_lock($1::bigint) AS locked',
        [lockKey(name)],
      )) as {
        locked: boolean;
      }[];
      if (!row?.locked) return { acquired: false } as const;
      return { acquired: true, value: await work() } as const;
    });
  }
}

/** SQLite: one process owns the file, so an in-process flag is the whole lock. */
export class InProcessDistributedLock implements DistributedLock {
  private readonly held = new Set<string>();

  async tryWithLock<T>(
    name: string,
    work: () => Promise<T>,
  ): Promise<LockOutcome<T>> {
    if (this.held.has(name)) return { acquired: false };
    this.held.add(name);
    try {
      return { acquired: true, value: await work() };
    } finally {
      this.held.delete(name);
    }
  }
}

/** Advisory locks are keyed by a bigint; derived from the name so each use gets its own, stable across releases. */
export function lockKey(name: string): string {
  const hex = createHash('sha256')
    .update(`orchestrator-alerting:${name}`)
    .digest('hex')
    .slice(0, 16);
  return BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();
}

export const distributedLockProvider: Provider = {
  provide: DISTRIBUTED_LOCK,
  inject: [DatabaseService],
  useFactory: (db: DatabaseService): DistributedLock =>
    db.isPostgres
      ? new PostgresDistributedLock(db.dataSource)
      : new InProcessDistributedLock(),
};
