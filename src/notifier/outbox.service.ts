import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  DatabaseService,
  type TxWriter,
} from '../database/database.service.js';
import { AlertingError } from '../ops/alerting.errors.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { Delivery, type DeliveryPayload } from './delivery.entity.js';
import { DeliveryDispatcher } from './delivery.dispatcher.js';
import type { NotificationAction } from './notifier.port.js';
import { NotifierRegistry } from './notifier.registry.js';

/** Writes notifier events in the caller's transaction; wakes the dispatcher after commit. */
@Injectable()
export class OutboxService {
  constructor(
    private readonly registry: NotifierRegistry,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly db: DatabaseService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private get names(): string[] {
    return this.registry.names;
  }

  /**
   * Buffered in the caller's transaction writer; it is flushed before the commit. One row
   * per enabled notifier, or per `targets` entry (an incident's route: a target's context
   * replaces that adapter's, e.g. a named PagerDuty key). A target whose notifier is no
   * longer enabled is skipped.
   * `except` leaves out the notifier a transition came from (PagerDuty's own webhook).
   */
  enqueue(
    w: TxWriter,
    payload: DeliveryPayload,
    action: NotificationAction,
    now: string,
    targets?: { notifier: string; context?: Record<string, unknown> }[],
    except?: string,
  ): void {
    if (this.names.length === 0) return;
    const { incident } = payload;
    const rows = targets
      ? targets
          .filter((t) => this.registry.isEnabled(t.notifier))
          .map((t) => ({
            notifier: t.notifier,
            payload: t.context
              ? {
                  ...payload,
                  context: { ...payload.context, [t.notifier]: t.context },
                }
              : payload,
          }))
      : this.names.map((notifier) => ({ notifier, payload }));
    for (const { notifier, payload } of rows) {
      if (notifier === except) continue;
      w.insert(Delivery, {
        notifier,
        dedupKey: incident.dedupKey,
        incidentId: incident.id,
        action,
        payload,
        state: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        leaseOwner: null,
        leaseUntil: null,
        lastError: null,
        lastResponse: null,
        createdAt: now,
        deliveredAt: null,
      });
    }
  }

  /**
   * Puts a dead delivery back in the queue, due now; its attempts are kept for the record.
   *
   * Refused while a later event of the same notifier and key has been delivered or is
   * being sent: the retried one would arrive after it and become the far side's last word
   * (a trigger retried after its resolve opens a PagerDuty incident nothing closes). Later
   * rows that are pending but idle are fine: this one becomes the oldest and goes first.
   */
  async retry(id: number): Promise<Delivery> {
    const row = await this.db.tx(async (m) => {
      const found = Number.isSafeInteger(id)
        ? await m.findOneBy(Delivery, { id })
        : null;
      if (!found)
        throw new AlertingError('not-found', `no delivery with id ${id}`);
      if (found.state !== 'dead')
        throw new AlertingError(
          'conflict',
          `delivery ${id} is ${found.state}, not dead`,
        );
      const now = this.clock.now().toISOString();
      await this.refuseIfOvertaken(m, found, now);
      // The 24 h give-up window restarts: an operator asked for another day of tries.
      const changes = {
        state: 'pending' as const,
        nextAttemptAt: now,
        createdAt: now,
        lastError: found.lastError,
      };
      await m.update(Delivery, { id, state: 'dead' }, changes);
      return Object.assign(found, changes);
    });
    this.committed();
    return row;
  }

  private async refuseIfOvertaken(
    m: EntityManager,
    dead: Delivery,
    now: string,
  ): Promise<void> {
    const params = [dead.notifier, dead.dedupKey, dead.id];
    // Locked on PostgreSQL: a dispatcher claiming one of them now waits for this
    // transaction (and then finds this row ahead of it), or has claimed it already (and
    // the lease below refuses).
    const pending = await this.db.query<{
      id: number | string;
      action: string;
      lease_until: string | null;
    }>(
      m,
      this.db.forUpdate(
        `SELECT id, action, lease_until FROM deliveries
         WHERE notifier = $1 AND dedup_key = $2 AND id > $3 AND state = 'pending' ORDER BY id`,
      ),
      params,
    );
    const sending = pending.find((r) => r.lease_until && r.lease_until > now);
    if (sending)
      throw new AlertingError(
        'conflict',
        `delivery ${dead.id} cannot be retried now: the later ${sending.action} of ${dead.dedupKey} (delivery ${sending.id}) is being sent to ${dead.notifier}; retry once it is recorded`,
      );
    const [delivered] = await this.db.query<{
      id: number | string;
      action: string;
    }>(
      m,
      `SELECT id, action FROM deliveries
       WHERE notifier = $1 AND dedup_key = $2 AND id > $3 AND state = 'delivered'
       ORDER BY id DESC LIMIT 1`,
      params,
    );
    if (delivered)
      throw new AlertingError(
        'conflict',
        `delivery ${dead.id} (${dead.action}) cannot be retried: a later ${delivered.action} of ${dead.dedupKey} (delivery ${delivered.id}) was already delivered to ${dead.notifier}, and this ${dead.action} would arrive after it and become its last word for the key`,
      );
  }

  /** Call after the transaction that enqueued has committed. */
  committed(): void {
    this.dispatcher.wake();
  }
}
