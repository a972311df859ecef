import type { AlertingConfig } from '../config/alerting.config.js';
import type { DatabaseService } from '../database/database.service.js';
import { DeliveryDispatcher } from './delivery.dispatcher.js';
import type { NotifierRegistry } from './notifier.registry.js';
import type { Delivery } from './delivery.entity.js';
import {
  NotifierError,
  type NotificationEvent,
  type Notifier,
} from './notifier.port.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const row = (id: number): Partial<Delivery> => ({
  id,
  notifier: 'test',
  dedupKey: `key-${id}`,
  action: 'trigger',
  payload: { incident: { dedupKey: `key-${id}` } as never },
  state: 'pending',
  attempts: 0,
  createdAt: new Date().toISOString(),
});

/**
 * A database that answers the dispatcher's two statements (claim the rows, record the
 * outcome) and lets the test hold the claim open.
 */
class ScriptedDatabase {
  readonly isPostgres = false;
  claims: Array<ReturnType<typeof deferred<Array<{ id: number }>>>> = [];
  /** the row limit each claim asked for */
  claimLimits: unknown[] = [];
  claimStarted = deferred<void>();
  recorded: Array<{ id: unknown; state: unknown }> = [];
  /** the row id of each lease renewal */
  renewals: number[] = [];
  /** next_attempt_at of each recorded outcome */
  nextAttempts: unknown[] = [];
  /** the next this-many outcome writes fail, as a database that went away would */
  failRecords = 0;
  refused = 0;
  /** the next this-many transactions are refused before their work runs (BEGIN fails) */
  refuseTx = 0;
  /** the next this-many transactions run their work, then fail to commit */
  failCommits = 0;
  /** leases held, by row id, as the claims, outcomes and releases left them */
  leases = new Map<number, { owner: unknown; until: unknown }>();
  /** runs once an outcome is written, before the write returns */
  onRecord?: (id: number, state: unknown) => Promise<void>;
  closed = false;

  async tx<T>(work: (m: unknown) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('database closed');
    if (this.refuseTx > 0) {
      this.refuseTx -= 1;
      throw new Error('cannot start a transaction');
    }
    const unit: { written: object[] } = { written: [] };
    const value = await work(unit);
    if (this.failCommits > 0) {
      this.failCommits -= 1;
      // rolled back: what this transaction wrote is gone
      this.recorded = this.recorded.filter((r) => !unit.written.includes(r));
      throw new Error('COMMIT failed: disk I/O error');
    }
    return value;
  }

  async query(
    m: { written?: object[] },
    sql: string,
    params: unknown[],
  ): Promise<unknown[]> {
    if (this.closed) throw new Error('database closed');
    if (sql.includes('RETURNING *')) {
      const claim = deferred<Array<{ id: number }>>();
      this.claims.push(claim);
      this.claimLimits.push(params[3]);
      this.claimStarted.resolve();
      // the claimed rows whole, in whatever order the database returns them
      return claim.promise.then((ids) => {
        for (const { id } of ids)
          this.leases.set(id, { owner: params[0], until: params[1] });
        return ids.map(({ id }) => row(id)).reverse();
      });
    }
    if (sql.startsWith('UPDATE deliveries SET lease_until')) {
      this.renewals.push(Number(params[0]));
      return [];
    }
    if (sql.startsWith('UPDATE deliveries SET lease_owner = NULL')) {
      const held = this.leases.get(Number(params[0]));
      if (held && held.owner === params[1] && held.until === params[2])
        this.leases.delete(Number(params[0]));
      return [];
    }
    if (sql.includes('SET state')) {
      if (this.failRecords > 0) {
        this.failRecords -= 1;
        this.refused += 1;
        throw new Error('connection terminated unexpectedly');
      }
      const outcome = { id: params[0], state: params[2] };
      this.recorded.push(outcome);
      m.written?.push(outcome);
      if (this.leases.get(Number(params[0]))?.owner === params[1])
        this.leases.delete(Number(params[0]));
      await this.onRecord?.(Number(params[0]), params[2]);
      this.nextAttempts.push(params[4]);
      return [];
    }
    return [];
  }

  fromRow<T>(_entity: unknown, r: T): T {
    return r;
  }
}

describe('DeliveryDispatcher', () => {
  const config = {
    delivery: {
      retryBaseMs: 10,
      retryMaxMs: 100,
      maxAgeMs: 60_000,
      leaseMs: 30_000,
      pollIntervalMs: 1_000,
      concurrency: 8,
    },
    schedule: false,
  } as AlertingConfig;

  const dispatcherOn = (db: ScriptedDatabase, notifier: Notifier) =>
    new DeliveryDispatcher(
      db as unknown as DatabaseService,
      {
        byName: new Map([[notifier.name, notifier]]),
      } as unknown as NotifierRegistry,
      config,
      { now: () => new Date() },
    );

  it('waits for a claim in progress and the deliveries it starts before returning', async () => {
    const db = new ScriptedDatabase();
    const sent: NotificationEvent[] = [];
    const notifier: Notifier = {
      name: 'test',
      send: async (event) => {
        await new Promise((r) => setTimeout(r, 50));
        sent.push(event);
      },
    };
    const dispatcher = dispatcherOn(db, notifier);

    dispatcher.wake();
    await db.claimStarted.promise;
    // SIGTERM arrives while the claim transaction is still running.
    const drained = dispatcher.drain(5_000).then(() => (db.closed = true));
    db.claims[0].resolve([{ id: 1 }, { id: 2 }]);
    await drained;

    expect(sent.map((e) => e.deliveryId)).toEqual(['1', '2']);
    expect(db.recorded).toEqual([
      { id: 1, state: 'delivered' },
      { id: 2, state: 'delivered' },
    ]);
    // Stopped: nothing claims again after the drain.
    expect(db.claims).toHaveLength(1);
  });

  it('gives up on a delivery that outlasts the bound, leaving its lease to run out', async () => {
    const db = new ScriptedDatabase();
    const notifier: Notifier = {
      name: 'test',
      send: () => new Promise(() => undefined), // PagerDuty never answers
    };
    const dispatcher = dispatcherOn(db, notifier);
    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 7 }]);
    const started = Date.now();
    await dispatcher.drain(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(dispatcher.inflightCount).toBe(1);
    expect(db.recorded).toEqual([]);
  });

  it('does not scan the backlog while its only notifier is throttled', async () => {
    const db = new ScriptedDatabase();
    let sends = 0;
    const notifier: Notifier = {
      name: 'test',
      send: () => {
        sends += 1;
        return Promise.reject(
          new NotifierError('rate limited', true, {
            retryAfterMs: 60_000,
            throttled: true,
          }),
        );
      },
    };
    const dispatcher = dispatcherOn(db, notifier);
    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 1 }]);
    await vi.waitFor(() => expect(db.recorded).toHaveLength(1));
    expect(db.recorded[0]).toEqual({ id: 1, state: 'pending' });

    // A storm: every commit wakes the dispatcher; none of them may claim.
    for (let i = 0; i < 20; i++) {
      dispatcher.wake();
      await new Promise((r) => setImmediate(r));
    }
    await dispatcher.drain(1_000);
    expect(db.claims).toHaveLength(1);
    expect(sends).toBe(1);
  });

  it("frees a send's slot while its outcome is written, holding at most twice `concurrency` rows", async () => {
    const db = new ScriptedDatabase();
    const writes = deferred<void>();
    db.onRecord = () => writes.promise; // outcomes take their time to commit
    const sent: string[] = [];
    const notifier: Notifier = {
      name: 'test',
      send: async (event) => {
        sent.push(event.deliveryId);
      },
    };
    const dispatcher = new DeliveryDispatcher(
      db as unknown as DatabaseService,
      { byName: new Map([['test', notifier]]) } as unknown as NotifierRegistry,
      { ...config, delivery: { ...config.delivery, concurrency: 2 } },
      { now: () => new Date() },
    );

    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 1 }, { id: 2 }]);
    // both sent, neither outcome written yet: their slots are free, so the next claim runs
    await vi.waitFor(() => expect(db.claims).toHaveLength(2));
    expect(sent).toEqual(['1', '2']);
    db.claims[1].resolve([{ id: 3 }, { id: 4 }]);
    await vi.waitFor(() => expect(sent).toEqual(['1', '2', '3', '4']));
    // four rows held for two slots: no more claims until outcomes are written
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(db.claims).toHaveLength(2);
    expect(dispatcher.inflightCount).toBe(4);

    writes.resolve();
    await vi.waitFor(() => expect(db.claims).toHaveLength(3));
    expect(db.claimLimits).toEqual([2, 2, 2]);
    db.claims[2].resolve([]);
    await dispatcher.drain(1_000);
    expect(db.recorded.map((r) => r.id).sort()).toEqual([1, 2, 3, 4]);
  });

  it('claims once more per delivery, when it is answered, not again when its outcome is written', async () => {
    const db = new ScriptedDatabase();
    const write = deferred<void>();
    db.onRecord = () => write.promise;
    const notifier: Notifier = { name: 'test', send: async () => undefined };
    const dispatcher = dispatcherOn(db, notifier);

    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 1 }]);
    // answered: the next claim runs while the outcome is still being written
    await vi.waitFor(() => expect(db.claims).toHaveLength(2));
    write.resolve();
    await vi.waitFor(() => expect(dispatcher.inflightCount).toBe(0));
    db.claims[1].resolve([]); // nothing else is due
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(db.claims).toHaveLength(2);
    await dispatcher.drain(1_000);
  });

  it('never sends a row twice from one instance when its lease runs out mid-send', async () => {
    const db = new ScriptedDatabase();
    const answer = deferred<void>();
    const sent: string[] = [];
    const notifier: Notifier = {
      name: 'test',
      send: async (event) => {
        sent.push(event.deliveryId);
        await answer.promise;
      },
    };
    const dispatcher = dispatcherOn(db, notifier);
    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 1 }]);
    await vi.waitFor(() => expect(sent).toEqual(['1']));

    // The clock jumped past the lease: the next claim hands row 1 back, beside row 2.
    dispatcher.wake();
    await vi.waitFor(() => expect(db.claims).toHaveLength(2));
    db.claims[1].resolve([{ id: 1 }, { id: 2 }]);
    await vi.waitFor(() => expect(sent).toEqual(['1', '2']));

    answer.resolve();
    await dispatcher.drain(1_000);
    expect(sent).toEqual(['1', '2']);
    expect(db.recorded).toEqual([
      { id: 1, state: 'delivered' },
      { id: 2, state: 'delivered' },
    ]);
  });

  it('keeps recording an outcome the database refused, without sending the row again', async () => {
    const db = new ScriptedDatabase();
    db.failRecords = Infinity; // the database refuses every outcome until told otherwise
    const sent: string[] = [];
    const notifier: Notifier = {
      name: 'test',
      send: (event) => {
        sent.push(event.deliveryId);
        return Promise.resolve();
      },
    };
    const dispatcher = dispatcherOn(db, notifier);
    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 1 }, { id: 2 }]);
    await vi.waitFor(() => expect(db.refused).toBeGreaterThanOrEqual(2));

    // Still ours while it is being recorded: a claim handing row 1 back does not resend it,
    // and other rows go on meanwhile.
    dispatcher.wake();
    await vi.waitFor(() => expect(db.claims).toHaveLength(2));
    db.claims[1].resolve([{ id: 1 }, { id: 3 }]);
    await vi.waitFor(() => expect(sent).toContain('3'));
    expect(db.recorded).toEqual([]);

    db.failRecords = 0;
    await vi.waitFor(() => expect(db.recorded).toHaveLength(3), {
      timeout: 3_000,
    });
    await dispatcher.drain(1_000);

    expect(sent).toEqual(['1', '2', '3']);
    expect(db.recorded).toEqual(
      expect.arrayContaining([
        { id: 1, state: 'delivered' },
        { id: 2, state: 'delivered' },
        { id: 3, state: 'delivered' },
      ]),
    );
  });

  it.each([
    ['refused before its work runs', 'refuseTx'],
    ['rolled back at commit', 'failCommits'],
  ] as const)(
    'records outcomes whose shared write was %s, once each, instead of waiting for good',
    async (_, fault) => {
      const db = new ScriptedDatabase();
      const sent: string[] = [];
      const notifier: Notifier = {
        name: 'test',
        send: (event) => {
          sent.push(event.deliveryId);
          // the transaction that writes these outcomes is the next one
          if (sent.length === 2) db[fault] = 1;
          return Promise.resolve();
        },
      };
      const dispatcher = dispatcherOn(db, notifier);
      dispatcher.wake();
      await db.claimStarted.promise;
      db.claims[0].resolve([{ id: 1 }, { id: 2 }]);

      await vi.waitFor(() => expect(db.recorded).toHaveLength(2), {
        timeout: 3_000,
      });
      expect(db[fault]).toBe(0);
      expect(dispatcher.inflightCount).toBe(0);
      await dispatcher.drain(1_000);
      expect(sent).toEqual(['1', '2']);
      expect(db.recorded).toEqual(
        expect.arrayContaining([
          { id: 1, state: 'delivered' },
          { id: 2, state: 'delivered' },
        ]),
      );
    },
  );

  it('lets go of a row claimed again while its outcome was being written, so its retry is not held for a whole lease', async () => {
    const db = new ScriptedDatabase();
    let sends = 0;
    const notifier: Notifier = {
      name: 'test',
      send: () => {
        sends += 1;
        return sends === 1
          ? Promise.reject(
              new NotifierError('PagerDuty answered 503', true, {
                status: 503,
              }),
            )
          : Promise.resolve();
      },
    };
    const dispatcher = dispatcherOn(db, notifier);
    // A loaded host: the retry is due by the time a claim runs behind the write of the
    // 503, and that claim returns the row before its send has left the in-flight set.
    db.onRecord = async (id, state) => {
      if (state !== 'pending' || db.claims.length !== 1) return;
      dispatcher.wake();
      await vi.waitFor(() => expect(db.claims).toHaveLength(2));
      db.claims[1].resolve([{ id }]);
      await new Promise((r) => setTimeout(r, 20));
    };
    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 1 }]);

    // once the 503 is recorded, the claim that follows finds row 1 free: the second
    // claim's lease was given back, not left to hold the retry for a whole lease (30 s)
    await vi.waitFor(() => expect(db.claims.length).toBeGreaterThan(2));
    expect(db.recorded).toEqual([{ id: 1, state: 'pending' }]);
    await vi.waitFor(() => expect(db.leases.has(1)).toBe(false));
    db.claims.at(-1)!.resolve([{ id: 1 }]);
    await vi.waitFor(() =>
      expect(db.recorded).toEqual([
        { id: 1, state: 'pending' },
        { id: 1, state: 'delivered' },
      ]),
    );
    expect(sends).toBe(2);
    for (const claim of db.claims.slice(3)) claim.resolve([]);
    await dispatcher.drain(1_000);
  });

  it.each([1e20, 3_000_000_000_000, Infinity, Number.NaN, -5_000])(
    'caps a Retry-After of %d ms at the retry maximum and goes on claiming',
    async (retryAfterMs) => {
      const warnings: Error[] = [];
      const onWarning = (w: Error) => warnings.push(w);
      process.on('warning', onWarning);
      const db = new ScriptedDatabase();
      let sends = 0;
      const notifier: Notifier = {
        name: 'test',
        send: () => {
          sends += 1;
          return Promise.reject(
            new NotifierError('PagerDuty throttled the event (429)', true, {
              status: 429,
              retryAfterMs,
            }),
          );
        },
      };
      const dispatcher = dispatcherOn(db, notifier);
      try {
        dispatcher.wake();
        await db.claimStarted.promise;
        const before = Date.now();
        db.claims[0].resolve([{ id: 1 }]);
        await vi.waitFor(() => expect(db.recorded).toHaveLength(1));
        expect(db.recorded[0]).toEqual({ id: 1, state: 'pending' });
        const due = Date.parse(db.nextAttempts[0] as string);
        expect(due - before).toBeLessThanOrEqual(
          config.delivery.retryMaxMs + 50,
        );

        // The pause ends with the cap: the notifier is claimed for again.
        await new Promise((r) =>
          setTimeout(r, config.delivery.retryMaxMs + 50),
        );
        dispatcher.wake();
        await vi.waitFor(() => expect(db.claims).toHaveLength(2));
        db.claims[1].resolve([]);
        await dispatcher.drain(1_000);
        expect(sends).toBe(1);
        expect(warnings.map((w) => w.name)).not.toContain(
          'TimeoutOverflowWarning',
        );
      } finally {
        process.off('warning', onWarning);
      }
    },
  );

  it('retries a send that never settles once twice the delivery timeout has passed', async () => {
    const db = new ScriptedDatabase();
    const notifier: Notifier = {
      name: 'test',
      send: () => new Promise(() => undefined), // a host adapter with no deadline of its own
    };
    const dispatcher = new DeliveryDispatcher(
      db as unknown as DatabaseService,
      {
        byName: new Map([[notifier.name, notifier]]),
      } as unknown as NotifierRegistry,
      {
        delivery: { ...config.delivery, timeoutMs: 50 },
        schedule: false,
      } as AlertingConfig,
      { now: () => new Date() },
    );
    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 1 }]);
    await vi.waitFor(() => expect(db.recorded).toHaveLength(1), {
      timeout: 3_000,
    });
    expect(db.recorded[0]).toEqual({ id: 1, state: 'pending' });
    await vi.waitFor(() => expect(dispatcher.inflightCount).toBe(0));
    await dispatcher.drain(1_000);
  });

  it('renews the lease of each send in flight while it outlasts the lease, and stops once it settles', async () => {
    const db = new ScriptedDatabase();
    const notifier: Notifier = {
      name: 'test',
      send: () => new Promise((r) => setTimeout(r, 700)),
    };
    const dispatcher = new DeliveryDispatcher(
      db as unknown as DatabaseService,
      {
        byName: new Map([[notifier.name, notifier]]),
      } as unknown as NotifierRegistry,
      {
        delivery: { ...config.delivery, leaseMs: 300 },
        schedule: false,
      } as AlertingConfig,
      { now: () => new Date() },
    );
    dispatcher.wake();
    await db.claimStarted.promise;
    db.claims[0].resolve([{ id: 1 }, { id: 2 }]);
    await vi.waitFor(() => expect(db.recorded).toHaveLength(2), {
      timeout: 3_000,
    });
    // every 100 ms over a 700 ms send: several renewals of each row
    for (const id of [1, 2])
      expect(db.renewals.filter((r) => r === id).length).toBeGreaterThanOrEqual(
        4,
      );
    // nothing in flight: no more renewals
    const renewed = db.renewals.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(db.renewals.length).toBe(renewed);
    await dispatcher.drain(1_000);
  });
});
