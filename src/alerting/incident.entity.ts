import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { AlertLink, Severity } from '../notifier/notifier.port.js';
import type { IncidentHold, IncidentRoute } from './incident-router.port.js';

export type IncidentStatus = 'triggered' | 'acknowledged' | 'resolved';

/**
 * Timestamps are ISO 8601 UTC strings: they sort as text and read the same on SQLite
 * and PostgreSQL, without timezone conversions by either driver.
 */
@Entity('incidents')
@Index('ix_incidents_dedup_key', ['dedupKey', 'createdAt'])
@Index('ix_incidents_status', ['status'])
@Index('ix_incidents_open_default', ['lastSeenAt', 'id'], {
  where: 'open_key IS NOT NULL AND resolve_timeout_ms IS NULL',
})
@Index('ix_incidents_open_override', ['lastSeenAt', 'id'], {
  where: 'open_key IS NOT NULL AND resolve_timeout_ms IS NOT NULL',
})
@Index('ix_incidents_open_alarm', ['id'], {
  where: 'open_key IS NOT NULL AND alarm_arn IS NOT NULL',
})
@Index('ix_incidents_held', ['id'], {
  where: 'open_key IS NOT NULL AND suppressed_by IS NOT NULL',
})
@Index('ix_incidents_open_long_key', ['id'], {
  where: 'open_key IS NOT NULL AND length(dedup_key) > 255',
})
export class Incident {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'dedup_key', type: 'varchar', length: 512 }) dedupKey: string;
  /**
   * The dedup key while the incident is open, NULL once resolved: a plain unique index on
   * it is "one open incident per key" on both dialects (NULLs never collide).
   */
  @Column({
    name: 'open_key',
    type: 'varchar',
    length: 512,
    nullable: true,
    unique: true,
  })
  openKey: string | null;
  @Column({ type: 'varchar', length: 16 }) status: IncidentStatus;
  @Column({ type: 'varchar', length: 16 }) severity: Severity;
  @Column({ name: 'alarm_name', type: 'varchar', length: 255 })
  alarmName: string;
  @Column({ name: 'metric_name', type: 'varchar', length: 255, nullable: true })
  metricName: string | null;
  @Column({ type: 'double precision', nullable: true }) threshold:
    number | null;
  @Column({ name: 'current_value', type: 'double precision', nullable: true })
  currentValue: number | null;
  @Column({ type: 'varchar', length: 64 }) environment: string;
  @Column({ type: 'text', nullable: true }) description: string | null;
  @Column({ type: 'simple-json' }) recommendations: string[];
  @Column({ type: 'varchar', length: 255, nullable: true }) source:
    string | null;
  @Column({ type: 'varchar', length: 255, nullable: true }) component:
    string | null;
  @Column({ name: 'group_name', type: 'varchar', length: 255, nullable: true })
  group: string | null;
  @Column({ name: 'class_name', type: 'varchar', length: 255, nullable: true })
  class: string | null;
  @Column({ type: 'simple-json' }) links: AlertLink[];
  @Column({ name: 'custom_details', type: 'simple-json' })
  customDetails: Record<string, unknown>;
  /** the `timestamp` of the alert that triggered it */
  @Column({ name: 'alert_timestamp', type: 'varchar', length: 32 })
  alertTimestamp: string;
  @Column({ type: 'integer' }) occurrences: number;
  /**
   * Opaque to the core: what each notifier adapter asked to keep when the incident
   * triggered (PagerDuty: its routing key), by adapter name; handed back on every transition.
   */
  @Column({ name: 'notifier_context', type: 'simple-json', nullable: true })
  notifierContext: Record<string, Record<string, unknown>> | null;
  /** the routing decided when it opened; null: every enabled notifier (no routing file) */
  @Column({ type: 'simple-json', nullable: true })
  route?: IncidentRoute | null;
  /**
   * Why it has not paged yet (silence, inhibiting incident, pageAfter); cleared when its
   * trigger is sent. Kept on an incident resolved while held: it never paged.
   */
  @Column({ name: 'suppressed_by', type: 'simple-json', nullable: true })
  suppressedBy?: IncidentHold | null;
  /** bigint: up to 30 days of milliseconds; PostgreSQL hands it back as a string */
  @Column({
    name: 'resolve_timeout_ms',
    type: 'bigint',
    nullable: true,
    transformer: {
      to: (v: number | null) => v,
      from: (v: string | number | null) => (v === null ? null : Number(v)),
    },
  })
  resolveTimeoutMs: number | null;
  @Column({ name: 'ingest_source', type: 'varchar', length: 32 })
  ingestSource: string;
  @Column({ name: 'alarm_arn', type: 'varchar', length: 2048, nullable: true })
  alarmArn: string | null;
  /** source-side time of the last applied transition (CloudWatch StateChangeTime) */
  @Column({
    name: 'last_transition_at',
    type: 'varchar',
    length: 32,
    nullable: true,
  })
  lastTransitionAt: string | null;
  @Column({ name: 'created_at', type: 'varchar', length: 32 })
  createdAt: string;
  @Column({ name: 'last_seen_at', type: 'varchar', length: 32 })
  lastSeenAt: string;
  @Column({
    name: 'acknowledged_at',
    type: 'varchar',
    length: 32,
    nullable: true,
  })
  acknowledgedAt: string | null;
  @Column({ name: 'resolved_at', type: 'varchar', length: 32, nullable: true })
  resolvedAt: string | null;
  @Column({
    name: 'resolve_reason',
    type: 'varchar',
    length: 32,
    nullable: true,
  })
  resolveReason: string | null;
  /** The PagerDuty incident it became, from the `incident.triggered` webhook. */
  @Column({
    name: 'pagerduty_incident_id',
    type: 'varchar',
    length: 64,
    nullable: true,
  })
  pagerdutyIncidentId?: string | null;
  @Column({
    name: 'pagerduty_incident_number',
    type: 'integer',
    nullable: true,
  })
  pagerdutyIncidentNumber?: number | null;
  @Column({
    name: 'pagerduty_html_url',
    type: 'varchar',
    length: 2048,
    nullable: true,
  })
  pagerdutyHtmlUrl?: string | null;
  /** `occurred_at` of the last PagerDuty webhook applied to it */
  @Column({
    name: 'pagerduty_event_at',
    type: 'varchar',
    length: 32,
    nullable: true,
  })
  pagerdutyEventAt?: string | null;
}
