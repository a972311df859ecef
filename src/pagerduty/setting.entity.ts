import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Runtime settings changed through the API (the PagerDuty routing key); they outlive restarts. */
@Entity('settings')
export class Setting {
  @PrimaryColumn({ type: 'varchar', length: 64 }) key: string;
  @Column({ type: 'text' }) value: string;
  @Column({ name: 'updated_at', type: 'varchar', length: 32 })
  updatedAt: string;
}
