import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A PagerDuty webhook event applied to an incident. The primary key is what makes a
 * redelivery (or the same delivery reaching two instances) a no-op.
 */
@Entity('pagerduty_webhook_events')
@Index('ix_pagerduty_webhook_events_received', ['receivedAt'])
export class PagerDutyWebhookEventRecord {
  @PrimaryColumn({ name: 'event_id', type: 'varchar', length: 64 })
  eventId: string;
  @Column({ name: 'event_type', type: 'varchar', length: 64 })
  eventType: string;
  @Column({ name: 'incident_id', type: 'varchar', length: 36 })
  incidentId: string;
  @Column({ name: 'occurred_at', type: 'varchar', length: 32 })
  occurredAt: string;
  @Column({ name: 'received_at', type: 'varchar', length: 32 })
  receivedAt: string;
}
