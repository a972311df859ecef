import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One line of an incident's timeline. */
@Entity('incident_events')
@Index('ix_incident_events_incident', ['incidentId', 'at'])
export class IncidentEvent {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'incident_id', type: 'varchar', length: 36 })
  incidentId: string;
  @Column({ type: 'varchar', length: 32 }) at: string;
  /** triggered, acknowledged, resolved, recorded */
  @Column({ type: 'varchar', length: 32 }) type: string;
  @Column({ type: 'simple-json', nullable: true }) detail: Record<
    string,
    unknown
  > | null;
}
