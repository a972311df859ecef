import { Inject, Injectable } from '@nestjs/common';
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
   * Buffered in the caller's transaction writer; it is flushed before the commit.
   * `except` leaves out the notifier a transition came from (PagerDuty's own webhook).
   */
  enqueue(
    w: TxWriter,
    payload: DeliveryPayload,
    action: NotificationAction,
    now: string,
    except?: string,
  ): void {
    if (this.names.length === 0) return;
    const { incident } = payload;
    for (const notifier of this.names) {
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

  /** Puts a dead delivery back in the queue, due now; its attempts are kept for the record. */
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

  /** Call after the transaction that enqueued has committed. */
  committed(): void {
    this.dispatcher.wake();
  }
}
