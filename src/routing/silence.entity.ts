import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A maintenance window: alerts matching it while active open incidents that do not page. */
@Entity('silences')
@Index('ix_silences_ends_at', ['endsAt'])
@Index('ix_silences_updated_at', ['updatedAt'])
export class Silence {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  /** as posted: field → string | string[] | { regex } */
  @Column({ type: 'simple-json' }) matchers: Record<string, unknown>;
  @Column({ name: 'starts_at', type: 'varchar', length: 32 }) startsAt: string;
  @Column({ name: 'ends_at', type: 'varchar', length: 32 }) endsAt: string;
  @Column({ type: 'text' }) comment: string;
  @Column({ name: 'created_by', type: 'varchar', length: 255 })
  createdBy: string;
  @Column({ name: 'created_at', type: 'varchar', length: 32 })
  createdAt: string;
  /** every change moves it: other instances notice a silence by it (see SilencesService) */
  @Column({ name: 'updated_at', type: 'varchar', length: 32 })
  updatedAt: string;
}

export type SilenceState = 'pending' | 'active' | 'expired';

export function silenceState(s: Silence, now: string): SilenceState {
  if (s.endsAt <= now) return 'expired';
  return s.startsAt > now ? 'pending' : 'active';
}

export function silenceView(s: Silence, now: string) {
  return {
    id: s.id,
    matchers: s.matchers,
    startsAt: s.startsAt,
    endsAt: s.endsAt,
    comment: s.comment,
    createdBy: s.createdBy,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    state: silenceState(s, now),
  };
}
