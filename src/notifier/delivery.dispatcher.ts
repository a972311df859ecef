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
import { Delivery, deliveryContext } from './delivery.entity.js';
import { DeliveryRepository } from './delivery.repository.js';
import { NotifierError, type Notifier } from './notifier.port.js';
import { NotifierRegistry } from './notifier.registry.js';

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
  /** deliveries in flight, by outbox row id */
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly pausedUntil = new Map<string, number>();
  private running = false;
  /** the claim loop in progress, if any: a drain waits for the rows it is claiming */
  private loopDone: Promise<void> = Promise.resolve();
  private again = false;
  private stopped = false;

  constructor(
    private readonly db: DatabaseService,
    private readonly deliveries: DeliveryRepository,
    private readonly registry: NotifierRegistry,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() private readonly metrics?: AlertingMetrics,
  ) {}

  private get notifiers(): ReadonlyMap<string, Notifier> {
    return this.registry.byName;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.db.isPostgres) {
      // One process owns a SQLite file, so leases left by a killed predecessor are void.
      await this.deliveries.releaseLeases();
    }
    if (this.config.schedule) {
      this.poll = setInterval(
        () => this.wake(),
        this.config.delivery.pollIntervalMs,
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
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([settled, timeout]);
    clearTimeout(timer);
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
        const free = this.config.delivery.concurrency - this.inflight.size;
        if (free <= 0) break;
        const rows = await this.claim(free);
        for (const row of rows) {
          // Our own lease ran out while we were still sending (the clock stepped forward,
          // or the loop stalled): the row is ours and its outcome is coming. Sending it
          // again from this instance would page twice.
          if (this.inflight.has(row.id)) continue;
          const p: Promise<void> = this.deliver(row)
            // The row keeps its lease and is retried when it runs out; never crash the process.
            .catch((error: Error) =>
              this.logger.error(
                `delivery ${row.id} not recorded: ${error.message}`,
              ),
            )
            .finally(() => {
              this.inflight.delete(row.id);
              // Refill in batches: a claim per finished delivery would cost a transaction each.
              if (this.inflight.size <= this.config.delivery.concurrency / 2)
                this.wake();
            });
          this.inflight.set(row.id, p);
        }
        if (rows.length < free && !this.again) break;
      }
    } catch (error) {
      this.logger.error(`dispatch failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  private async claim(limit: number): Promise<Delivery[]> {
    const now = this.clock.now();
    const leaseUntil = new Date(
      now.getTime() + this.config.delivery.leaseMs,
    ).toISOString();
    const paused = [...this.pausedUntil]
      .filter(([, until]) => until > now.getTime())
      .map(([notifier]) => notifier);
    // Every notifier throttled (PagerDuty's rate limit in a storm): the claim would scan the
    // whole due backlog, once per commit, to return nothing. The pause's own timer wakes us.
    if (
      paused.length > 0 &&
      [...this.notifiers.keys()].every((name) => paused.includes(name))
    )
      return [];
    return this.deliveries.claim(
      this.instanceId,
      leaseUntil,
      now.toISOString(),
      limit,
      paused,
    );
  }

  private async deliver(row: Delivery): Promise<void> {
    const notifier = this.notifiers.get(row.notifier);
    const attempts = row.attempts + 1;
    if (!notifier) {
      await this.finish(row, {
        state: 'dead',
        attempts,
        lastError: `notifier ${row.notifier} is not enabled`,
      });
      return;
    }
    try {
      const result = await this.holdingLease(row, () =>
        notifier.send({
          deliveryId: String(row.id),
          action: row.action,
          incident: row.payload.incident,
          context: deliveryContext(row),
          createdAt: new Date(row.createdAt),
        }),
      );
      const now = this.clock.now();
      await this.finish(row, {
        state: 'delivered',
        attempts,
        deliveredAt: now.toISOString(),
        lastResponse: result?.response ?? null,
      });
      this.metrics?.notification(row.notifier, row.action, 'delivered');
      this.metrics?.deliveryLatency(
        row.notifier,
        (now.getTime() - Date.parse(row.createdAt)) / 1000,
      );
    } catch (error) {
      await this.failed(row, attempts, error);
    }
  }

  private async failed(
    row: Delivery,
    attempts: number,
    error: unknown,
  ): Promise<void> {
    const e = error instanceof NotifierError ? error : null;
    const retryable = e ? e.retryable : true;
    const message = (error as Error)?.message ?? String(error);
    const now = this.clock.now();
    const age = now.getTime() - Date.parse(row.createdAt);
    const lastResponse = e?.details?.body ?? null;
    if (!retryable || age >= this.config.delivery.maxAgeMs) {
      const reason = retryable
        ? `gave up after ${attempts} attempts over 24h: ${message}`
        : message;
      await this.finish(row, {
        state: 'dead',
        attempts,
        lastError: reason,
        lastResponse,
      });
      this.metrics?.notification(row.notifier, row.action, 'dead');
      this.logger.warn(
        `delivery ${row.id} (${row.notifier} ${row.action} ${row.dedupKey}) is dead: ${reason}`,
      );
      return;
    }
    const retryAfterMs = e?.details?.retryAfterMs ?? 0;
    // A throttled notifier (its own rate limit, or a 429) is left alone until then: claiming
    // its other rows now would only fail them too, over and over, through a whole storm.
    if (retryAfterMs > 0) this.pause(row.notifier, retryAfterMs);
    if (e?.details?.throttled) {
      await this.finish(row, {
        state: 'pending',
        lastError: message,
        nextAttemptAt: new Date(now.getTime() + retryAfterMs).toISOString(),
      });
      this.metrics?.notification(row.notifier, row.action, 'throttled');
      return;
    }
    const delay = Math.max(this.backoff(attempts), retryAfterMs);
    await this.finish(row, {
      state: 'pending',
      attempts,
      lastError: message,
      lastResponse,
      nextAttemptAt: new Date(now.getTime() + delay).toISOString(),
    });
    this.metrics?.notification(row.notifier, row.action, 'retry');
    this.logger.warn(
      `delivery ${row.id} (${row.notifier} ${row.action}) failed, retry in ${delay} ms: ${message}`,
    );
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
        const leaseUntil = new Date(
          this.clock.now().getTime() + this.config.delivery.leaseMs,
        ).toISOString();
        this.deliveries
          .renewLease(row.id, this.instanceId, leaseUntil)
          .catch((error: Error) =>
            this.logger.warn(
              `lease renewal of delivery ${row.id} failed: ${error.message}`,
            ),
          );
      },
      Math.max(50, Math.floor(this.config.delivery.leaseMs / 3)),
    );
    try {
      return await send();
    } finally {
      clearInterval(renew);
    }
  }

  private pause(notifier: string, ms: number): void {
    const until = this.clock.now().getTime() + ms;
    if ((this.pausedUntil.get(notifier) ?? 0) >= until) return;
    this.pausedUntil.set(notifier, until);
    setTimeout(() => this.wake(), ms).unref();
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
    changes: Partial<Delivery>,
  ): Promise<void> {
    await this.deliveries.finish(this.instanceId, { ...row, ...changes });
  }
}
