import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { DatabaseService } from '../database/database.service.js';
import { AlertingMetrics } from '../ops/alerting.metrics.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import {
  clampDelay,
  excerptJson,
  maskedText,
  secretMasker,
} from './bounded.js';
import { Delivery, deliveryContext } from './delivery.entity.js';
import {
  NotifierError,
  type Notifier,
  type NotifierResult,
} from './notifier.port.js';
import { NotifierRegistry } from './notifier.registry.js';

/**
 * Rows an instance holds (leased, sent or being sent, outcome not yet written) per
 * delivery slot: sends stay within `concurrency`, and a database slow to take outcomes
 * does not let claims run ahead without bound.
 */
const HELD_PER_SLOT = 2;

/** Writes of an outcome before its answer excerpt is dropped from the retried write. */
const RECORD_FULL_ATTEMPTS = 3;

interface Outcome {
  changes: Partial<Delivery>;
  /** metrics and logs, once the outcome is stored */
  recorded?: () => void;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'unprintable error';
  }
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Of pending outbox row `d`: it is the oldest pending row of its notifier and key, the only
 * one that may be sent, so a resolve never overtakes its trigger.
 */
export const HEAD_OF_ITS_KEY = `NOT EXISTS (
        SELECT 1 FROM deliveries p
        WHERE p.state = 'pending' AND p.notifier = d.notifier AND p.dedup_key = d.dedup_key AND p.id < d.id
      )`;

const CLAIM_SQL = `
  UPDATE deliveries SET lease_owner = $1, lease_until = $2
  WHERE id IN (
    SELECT d.id FROM deliveries d
    WHERE d.state = 'pending' AND d.next_attempt_at <= $3
      AND (d.lease_until IS NULL OR d.lease_until < $3)
      AND ${HEAD_OF_ITS_KEY}
      __PAUSED__
    ORDER BY d.next_attempt_at, d.id
    LIMIT $4 __LOCK__
  )
  RETURNING *`;

/**
 * Hands outbox rows to their notifier. Only the oldest pending row of each
 * (notifier, dedup key) is claimable, so a resolve never overtakes its trigger, even
 * while that trigger waits out a backoff. Rows are leased: a crashed instance's rows
 * become claimable again when the lease runs out.
 */
@Injectable()
export class DeliveryDispatcher
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger(DeliveryDispatcher.name);
  private readonly instanceId = randomUUID();
  /** the polling fallback; its own timer, so a host's ScheduleModule stays the host's */
  private poll?: NodeJS.Timeout;
  /** deliveries in flight, by outbox row id: sent or being sent, outcome not yet written */
  private readonly inflight = new Map<number, Promise<void>>();
  /** of those, the ones whose send has not settled: what `concurrency` bounds */
  private sending = 0;
  private readonly pausedUntil = new Map<string, number>();
  private running = false;
  /** the claim loop in progress, if any: a drain waits for the rows it is claiming */
  private loopDone: Promise<void> = Promise.resolve();
  private again = false;
  private stopped = false;
  /** configured secrets, masked in everything a delivery stores or logs */
  private readonly secrets: string[];
  private readonly mask: (text: string) => string;
  private lastMask: { key: string; mask: (text: string) => string } | null =
    null;
  /** outcomes waiting for the unit that writes them (see finish) */
  private finishing: {
    params: unknown[];
    resolve: () => void;
    reject: (error: unknown) => void;
  }[] = [];

  constructor(
    private readonly db: DatabaseService,
    private readonly registry: NotifierRegistry,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() private readonly metrics?: AlertingMetrics,
  ) {
    this.secrets = [
      config.pagerduty?.routingKey ?? '',
      ...(config.apiKeys ?? []),
    ];
    this.mask = secretMasker(this.secrets);
  }

  private get notifiers(): ReadonlyMap<string, Notifier> {
    return this.registry.byName;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.db.isPostgres) {
      // One process owns a SQLite file, so leases left by a killed predecessor are void.
      await this.db.tx((m) =>
        this.db.query(
          m,
          `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE state = 'pending'`,
          [],
        ),
      );
    }
    if (this.config.schedule) {
      this.poll = setInterval(
        () => this.wake(),
        clampDelay(this.config.delivery.pollIntervalMs),
      );
    }
    this.wake();
  }

  /** Stops claiming; waits (bounded) for deliveries in flight so their outcome is recorded. */
  async onApplicationShutdown(): Promise<void> {
    await this.drain(10_000);
  }

  /**
   * A claim may be in progress when the drain starts: its rows are leased by the time it
   * returns, so the drain waits for it and then for every delivery it started. Returning
   * earlier would let the database close under them, leaving their leases to run out
   * (30 s by default) before another instance, or the next start on PostgreSQL, sends them.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    const settled = (async () => {
      await this.loopDone;
      while (this.inflight.size > 0)
        await Promise.allSettled(this.inflight.values());
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(resolve, clampDelay(timeoutMs));
      timer.unref();
    });
    await Promise.race([settled, timeout]);
    clearTimeout(timer);
    if (this.inflight.size > 0)
      this.logger.warn(
        `stopping with ${this.inflight.size} deliveries still in flight (${[...this.inflight.keys()].slice(0, 10).join(', ')}): their leases run out and they are sent again`,
      );
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.loopDone = new Promise((resolve) =>
      setImmediate(() => void this.loop().finally(resolve)),
    );
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopped) {
        this.again = false;
        // Sends are bounded by `concurrency`; a row whose outcome is being written no longer
        // holds a slot, but rows held in all stay bounded while the database is slow.
        const { concurrency } = this.config.delivery;
        const free = Math.min(
          concurrency - this.sending,
          HELD_PER_SLOT * concurrency - this.inflight.size,
        );
        if (free <= 0) break;
        const { rows, leaseUntil } = await this.claim(free);
        for (const row of rows) {
          // Still ours in flight: its lease ran out while we were sending (the clock
          // stepped forward, or the loop stalled), or its outcome was written just before
          // this claim ran (a retry already due on a loaded host). Sending it again from
          // this instance would page twice; once the outcome is in, the lease this claim
          // took is given back, or a retry would wait a whole lease for nobody.
          const sending = this.inflight.get(row.id);
          if (sending) {
            void sending.then(() => this.giveBack(row.id, leaseUntil));
            continue;
          }
          const p: Promise<void> = this.deliver(row)
            // Only a shutdown gets here (deliver records or keeps trying): the row keeps its
            // lease and is sent again when it runs out. Never crash the process.
            .catch((error: unknown) =>
              this.logger.error(
                `delivery ${row.id} not recorded: ${maskedText(errorText(error), this.mask)}`,
              ),
            )
            .finally(() => {
              // the send's own refill ran when it was answered; this one only matters
              // when the loop stopped because every row it may hold was held
              const wasFull =
                this.inflight.size >=
                HELD_PER_SLOT * this.config.delivery.concurrency;
              this.inflight.delete(row.id);
              if (wasFull) this.refill();
            });
          this.inflight.set(row.id, p);
        }
        if (rows.length < free && !this.again) break;
      }
    } catch (error) {
      this.logger.error(
        `dispatch failed: ${maskedText(errorText(error), this.mask)}`,
      );
    } finally {
      this.running = false;
    }
  }

  /**
   * A lease this instance took on a row it is not sending: released, unless the row was
   * leased again since (a later claim, the send's own renewal) or has been recorded.
   */
  private async giveBack(
    id: Delivery['id'],
    leaseUntil: string,
  ): Promise<void> {
    // shutting down: the lease runs out, as every other one left
    if (this.stopped) return;
    try {
      await this.db.tx((m) =>
        this.db.query(
          m,
          `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL
           WHERE id = $1 AND lease_owner = $2 AND lease_until = $3 AND state = 'pending'`,
          [id, this.instanceId, leaseUntil],
        ),
      );
      this.wake();
    } catch (error) {
      this.logger.warn(
        `giving back the lease of delivery ${id} failed, it runs out instead: ${maskedText(errorText(error), this.mask)}`,
      );
    }
  }

  private async claim(
    limit: number,
  ): Promise<{ rows: Delivery[]; leaseUntil: string }> {
    const now = this.clock.now();
    const leaseUntil = this.after(this.config.delivery.leaseMs);
    const paused = [...this.pausedUntil]
      .filter(([, until]) => until > now.getTime())
      .map(([notifier]) => notifier);
    // Every notifier throttled (PagerDuty's rate limit in a storm): the claim would scan the
    // whole due backlog, once per commit, to return nothing. The pause's own timer wakes us.
    if (
      paused.length > 0 &&
      [...this.notifiers.keys()].every((name) => paused.includes(name))
    )
      return { rows: [], leaseUntil };
    const sql = CLAIM_SQL.replace(
      '__LOCK__',
      this.db.isPostgres ? 'FOR UPDATE SKIP LOCKED' : '',
    ).replace(
      '__PAUSED__',
      paused.length > 0
        ? `AND d.notifier NOT IN (${paused.map((_, i) => `$${i + 5}`).join(', ')})`
        : '',
    );
    return this.db.tx(async (m) => {
      const rows = await this.db.query(m, sql, [
        this.instanceId,
        leaseUntil,
        now.toISOString(),
        limit,
        ...paused,
      ]);
      // RETURNING gives no order: oldest first, as claimed
      rows.sort((a, b) => Number(a.id) - Number(b.id));
      const claimed: Delivery[] = [];
      for (const row of rows) {
        try {
          claimed.push(this.db.fromRow(Delivery, row));
        } catch (error) {
          // One unreadable row (edited by hand, say) must not fail every claim after it.
          const reason = `unreadable outbox row: ${maskedText(errorText(error), this.mask)}`;
          await this.db.query(
            m,
            `UPDATE deliveries SET state = 'dead', last_error = $2, lease_owner = NULL, lease_until = NULL WHERE id = $1`,
            [row.id, reason],
          );
          this.logger.error(`delivery ${String(row.id)} is dead: ${reason}`);
        }
      }
      return { rows: claimed, leaseUntil };
    });
  }

  /**
   * Sends, then records the outcome. Recording is retried until it lands (or the process
   * stops), holding the lease all along: a row whose bookkeeping failed is neither sent
   * again by this instance (it stays in flight) nor taken by another (the lease is
   * renewed), so it is neither lost nor paged twice.
   */
  private async deliver(row: Delivery): Promise<void> {
    const key = deliveryContext(row)?.routingKey;
    const mask = this.maskFor(typeof key === 'string' ? key : null);
    await this.holdingLease(row, async () => {
      this.sending++;
      let outcome: Outcome;
      try {
        outcome = await this.attempt(row, mask);
      } finally {
        // the send's slot is free while its outcome is written (a commit or two away)
        this.sending--;
        this.refill();
      }
      await this.record(row, outcome.changes, mask);
      try {
        outcome.recorded?.();
      } catch {
        // metrics and logs only: the outcome is stored
      }
    });
  }

  /** Claims more once half the slots are free: a claim per finished send would cost a transaction each. */
  private refill(): void {
    if (this.sending <= this.config.delivery.concurrency / 2) this.wake();
  }

  /** The send and what to write about it; never throws. */
  private async attempt(
    row: Delivery,
    mask: (text: string) => string,
  ): Promise<Outcome> {
    const notifier = this.notifiers.get(row.notifier);
    const attempts = row.attempts + 1;
    if (!notifier) {
      return {
        changes: {
          state: 'dead',
          attempts,
          lastError: `notifier ${row.notifier} is not enabled`,
        },
      };
    }
    let result: NotifierResult | void;
    try {
      result = await this.settling(
        notifier,
        notifier.send({
          deliveryId: String(row.id),
          action: row.action,
          incident: row.payload.incident,
          context: deliveryContext(row),
          createdAt: new Date(row.createdAt),
        }),
      );
    } catch (error) {
      try {
        return this.failed(row, attempts, error, mask);
      } catch (bug) {
        // Whatever went wrong working out the retry, the row must stay deliverable.
        return {
          changes: {
            state: 'pending',
            attempts,
            lastError: `${errorText(error)} (retry not computed: ${errorText(bug)})`,
            nextAttemptAt: this.after(this.backoff(attempts)),
          },
        };
      }
    }
    const now = this.clock.now();
    return {
      changes: {
        state: 'delivered',
        attempts,
        deliveredAt: now.toISOString(),
        lastResponse: result?.response ?? null,
      },
      recorded: () => {
        this.metrics?.notification(row.notifier, row.action, 'delivered');
        this.metrics?.deliveryLatency(
          row.notifier,
          (now.getTime() - Date.parse(row.createdAt)) / 1000,
        );
      },
    };
  }

  private failed(
    row: Delivery,
    attempts: number,
    error: unknown,
    mask: (text: string) => string,
  ): Outcome {
    const e = error instanceof NotifierError ? error : null;
    const retryable = e ? e.retryable : true;
    const message = maskedText(errorText(error), mask);
    const now = this.clock.now();
    const age = now.getTime() - Date.parse(row.createdAt);
    const lastResponse = e?.details?.body ?? null;
    if (!retryable || age >= this.config.delivery.maxAgeMs) {
      const reason = retryable
        ? `gave up after ${attempts} attempts over 24h: ${message}`
        : message;
      return {
        changes: { state: 'dead', attempts, lastError: reason, lastResponse },
        recorded: () => {
          this.metrics?.notification(row.notifier, row.action, 'dead');
          this.logger.warn(
            `delivery ${row.id} (${row.notifier} ${row.action} ${row.dedupKey}) is dead: ${reason}`,
          );
        },
      };
    }
    // The far side's advice is capped like our own backoff: a Retry-After of years (or a
    // garbage one) must not park the row past its 24 h, nor pause the notifier for good.
    const retryAfterMs = clampDelay(
      e?.details?.retryAfterMs,
      this.config.delivery.retryMaxMs,
    );
    // A throttled notifier (its own rate limit, or a 429) is left alone until then: claiming
    // its other rows now would only fail them too, over and over, through a whole storm.
    if (retryAfterMs > 0) this.pause(row.notifier, retryAfterMs);
    if (e?.details?.throttled) {
      return {
        changes: {
          state: 'pending',
          lastError: message,
          nextAttemptAt: this.after(retryAfterMs),
        },
        recorded: () =>
          this.metrics?.notification(row.notifier, row.action, 'throttled'),
      };
    }
    const delay = Math.max(this.backoff(attempts), retryAfterMs);
    return {
      changes: {
        state: 'pending',
        attempts,
        lastError: message,
        lastResponse,
        nextAttemptAt: this.after(delay),
      },
      recorded: () => {
        this.metrics?.notification(row.notifier, row.action, 'retry');
        this.logger.warn(
          `delivery ${row.id} (${row.notifier} ${row.action}) failed, retry in ${delay} ms: ${message}`,
        );
      },
    };
  }

  /**
   * The built-in adapters give up at DELIVERY_TIMEOUT; a host's own adapter that never
   * settles would hold its row (lease renewed) and every later event of the key for good.
   * Past twice that budget the attempt counts as timed out and is retried.
   */
  private async settling<T>(notifier: Notifier, send: Promise<T>): Promise<T> {
    const ms = clampDelay(2 * (this.config.delivery.timeoutMs ?? 0) + 1_000);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new NotifierError(
              `notifier ${notifier.name} did not settle within ${ms} ms`,
              true,
            ),
          ),
        ms,
      );
    });
    try {
      // a host's adapter written in plain JS may answer without a promise
      return await Promise.race([Promise.resolve(send), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Routing keys are few: the last one's masker is kept rather than rebuilt per row. */
  private maskFor(
    routingKey: string | null | undefined,
  ): (text: string) => string {
    if (!routingKey) return this.mask;
    if (this.lastMask?.key !== routingKey)
      this.lastMask = {
        key: routingKey,
        mask: secretMasker([routingKey, ...this.secrets]),
      };
    return this.lastMask.mask;
  }

  /** An ISO date `ms` from now; clamped, so no configured or given delay makes it invalid. */
  private after(ms: number): string {
    return new Date(this.clock.now().getTime() + clampDelay(ms)).toISOString();
  }

  /**
   * Writes the outcome, retrying while the database refuses. After a few refusals the
   * answer excerpt is dropped, in case the write fails on what it carries; the state,
   * attempts and next attempt are what keep the row moving.
   */
  private async record(
    row: Delivery,
    changes: Partial<Delivery>,
    mask: (text: string) => string,
  ): Promise<void> {
    const { lastResponse: answer, ...rest } = changes;
    const fields = { ...rest };
    if (typeof fields.lastError === 'string')
      fields.lastError = maskedText(fields.lastError, mask);
    // no new answer (a row held back by our own rate limit): the previous one stays
    const lastResponse = excerptJson(
      'lastResponse' in changes ? answer : row.lastResponse,
      mask,
    );
    for (let attempt = 1; ; attempt++) {
      try {
        // a retry is written alone: one failing write must not fail the others with it
        await this.finish(
          row,
          {
            ...fields,
            lastResponse: attempt > RECORD_FULL_ATTEMPTS ? null : lastResponse,
          },
          attempt > 1,
        );
        return;
      } catch (error) {
        const stopping = this.stopped && attempt >= RECORD_FULL_ATTEMPTS;
        this.logger.error(
          `delivery ${row.id} (${row.notifier} ${row.action}): recording its outcome (${changes.state}) failed` +
            `${stopping ? '; left to its lease' : `, retrying (${attempt})`}: ${maskedText(errorText(error), mask)}`,
        );
        if (stopping) throw error;
        await sleep(
          clampDelay(
            Math.min(
              this.config.delivery.retryMaxMs,
              100 * 2 ** Math.min(attempt, 6),
            ),
          ),
        );
      }
    }
  }

  /**
   * Renews the lease while the send is in flight: a send slower than the lease (a 10 s
   * PagerDuty timeout against a short DELIVERY_LEASE, or a loaded host) would otherwise be
   * reclaimed and sent again by another instance while this one is still alive. Only a dead
   * instance stops renewing, so only a crash can cause a second delivery.
   */
  private async holdingLease<T>(
    row: Delivery,
    send: () => Promise<T>,
  ): Promise<T> {
    const renew = setInterval(
      () => {
        const leaseUntil = this.after(this.config.delivery.leaseMs);
        this.db
          .tx((m) =>
            this.db.query(
              m,
              'UPDATE deliveries SET lease_until = $3 WHERE id = $1 AND lease_owner = $2',
              [row.id, this.instanceId, leaseUntil],
            ),
          )
          .catch((error: unknown) =>
            this.logger.warn(
              `lease renewal of delivery ${row.id} failed: ${maskedText(errorText(error), this.mask)}`,
            ),
          );
      },
      Math.max(50, clampDelay(Math.floor(this.config.delivery.leaseMs / 3))),
    );
    try {
      return await send();
    } finally {
      clearInterval(renew);
    }
  }

  private pause(notifier: string, ms: number): void {
    const delay = clampDelay(ms, this.config.delivery.retryMaxMs);
    const until = this.clock.now().getTime() + delay;
    if ((this.pausedUntil.get(notifier) ?? 0) >= until) return;
    this.pausedUntil.set(notifier, until);
    setTimeout(() => this.wake(), delay).unref();
  }

  /** Exponential, capped, with "equal jitter": never zero, never in lockstep. */
  private backoff(attempts: number): number {
    const { retryBaseMs, retryMaxMs } = this.config.delivery;
    const ceiling = Math.min(
      retryMaxMs,
      retryBaseMs * 2 ** Math.min(attempts - 1, 30),
    );
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** Only while we still hold the lease: a row reclaimed after our lease ran out is not ours to write. */
  private async finish(
    row: Delivery,
    changes: Omit<Partial<Delivery>, 'lastResponse'> & {
      /** JSON text, already bounded and masked */
      lastResponse?: string | null;
    },
    alone = false,
  ): Promise<void> {
    const next = { ...row, ...changes };
    const params = [
      row.id,
      this.instanceId,
      next.state,
      next.attempts,
      next.nextAttemptAt,
      next.lastError,
      changes.lastResponse ?? null,
      next.deliveredAt,
    ];
    if (alone) {
      await this.db.tx((m) => this.db.query(m, FINISH_SQL, params));
      return;
    }
    // Outcomes finishing while the previous commit runs are written by one unit: a unit
    // (savepoint, update, release) per delivery cost more than the update itself.
    return new Promise((resolve, reject) => {
      this.finishing.push({ params, resolve, reject });
      if (this.finishing.length > 1) return;
      let batch: typeof this.finishing | undefined;
      this.db
        .tx(async (m) => {
          batch = this.finishing;
          this.finishing = [];
          for (const item of batch)
            await this.db.query(m, FINISH_SQL, item.params);
        })
        .then(
          () => batch!.forEach((item) => item.resolve()),
          (error: unknown) => {
            // Refused before the work ran (the batch is still queued here) or rolled back
            // at commit: every outcome in it is unwritten, and each is retried alone.
            // Left unanswered, they would stay in flight for good, and every later outcome
            // would queue behind a transaction that never comes.
            if (!batch) {
              batch = this.finishing;
              this.finishing = [];
            }
            for (const item of batch) item.reject(error);
          },
        );
    });
  }
}

const FINISH_SQL = `UPDATE deliveries SET state = $3, attempts = $4, next_attempt_at = $5, last_error = $6,
     last_response = $7, delivered_at = $8, lease_owner = NULL, lease_until = NULL
   WHERE id = $1 AND lease_owner = $2`;
