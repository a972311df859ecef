import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * An SNS delivery already handled, by `MessageId`: SNS delivers at least once and retries
 * on timeouts, so a repeat is acknowledged without being applied again. Rows expire.
 */
@Entity('sns_messages')
@Index('ix_sns_messages_received', ['receivedAt'])
export class SnsMessageRecord {
  @PrimaryColumn({ name: 'message_id', type: 'varchar', length: 255 })
  messageId: string;
  @Column({ name: 'topic_arn', type: 'varchar', length: 1024 })
  topicArn: string;
  @Column({ type: 'varchar', length: 32 }) type: string;
  /** what was done with it: ingested, ignored, confirmed, acknowledged */
  @Column({ type: 'varchar', length: 16 }) outcome: string;
  @Column({ name: 'received_at', type: 'varchar', length: 32 })
  receivedAt: string;
}
