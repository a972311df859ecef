import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryColumn,
  PrimaryGeneratedColumn,
} from 'typeorm';

/** What the host's own notifier delivered: one row per alerting notification. */
@Entity({ name: 'host_notifications' })
export class HostNotification {
  @PrimaryGeneratedColumn()
  id: number;

  /** the outbox row id: a retried delivery does not add a second row */
  @Column({ name: 'delivery_id', type: 'varchar', unique: true })
  deliveryId: string;

  @Column({ type: 'varchar' })
  action: string;

  @Column({ name: 'dedup_key', type: 'varchar' })
  dedupKey: string;

  @Column({ type: 'varchar' })
  severity: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** One row per run of the host's scheduled job. */
@Entity({ name: 'host_ticks' })
export class HostTick {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'timestamptz' })
  at: Date;
}

/** The host's own `settings` table: the alerting tables are prefixed, so no clash. */
@Entity({ name: 'settings' })
export class HostSetting {
  @PrimaryColumn({ type: 'varchar' })
  key: string;

  @Column({ type: 'varchar' })
  value: string;
}
