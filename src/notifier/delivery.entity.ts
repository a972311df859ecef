import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { IncidentSnapshot, NotificationAction } from './notifier.port.js';

/** What an outbox row carries: the incident as committed, and every adapter's context. */
export interface DeliveryPayload {
  incident: IncidentSnapshot;
  /** by adapter name, as {@link NotifierRegistry.context} collected it at trigger time */
  context?: Record<string, Record<string, unknown>> | null;
  /** rows written before the notifier context existed: PagerDuty's routing key */
  routingKey?: string | null;
}

/** The row's notifier's own part of the context. */
export function deliveryContext(row: Delivery): Record<string, unknown> | null {
  const { context, routingKey } = row.payload ?? {};
  if (context) return context[row.notifier] ?? null;
  return row.notifier === 'pagerduty' && routingKey ? { routingKey } : null;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead';

/**
 * An outbox row: one notifier event, written in the transaction of the incident change.
 * The auto-increment id is the delivery order per notifier and dedup key.
 */
@Entity('deliveries')
@Index('ix_deliveries_head', ['state', 'notifier', 'dedupKey', 'id'])
@Index('ix_deliveries_due', ['state', 'nextAttemptAt'])
export class Delivery {
  @PrimaryGeneratedColumn('increment') id: number;
  @Column({ type: 'varchar', length: 32 }) notifier: string;
  @Column({ name: 'dedup_key', type: 'varchar', length: 512 }) dedupKey: string;
  @Column({ name: 'incident_id', type: 'varchar', length: 36 })
  incidentId: string;
  @Column({ type: 'varchar', length: 16 }) action: NotificationAction;
  @Column({ type: 'simple-json' }) payload: DeliveryPayload;
  @Column({ type: 'varchar', length: 16 }) state: DeliveryState;
  @Column({ type: 'integer' }) attempts: number;
  @Column({ name: 'next_attempt_at', type: 'varchar', length: 32 })
  nextAttemptAt: string;
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true })
  leaseOwner: string | null;
  @Column({ name: 'lease_until', type: 'varchar', length: 32, nullable: true })
  leaseUntil: string | null;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError:
    string | null;
  @Column({ name: 'last_response', type: 'simple-json', nullable: true })
  lastResponse: unknown;
  @Column({ name: 'created_at', type: 'varchar', length: 32 })
  createdAt: string;
  @Column({ name: 'delivered_at', type: 'varchar', length: 32, nullable: true })
  deliveredAt: string | null;
}
