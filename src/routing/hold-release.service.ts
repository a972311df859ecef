import { Inject, Injectable } from '@nestjs/common';
import type { HoldReleaser } from '../alerting/incident-router.port.js';
import { IncidentService } from '../alerting/incident.service.js';
import { DatabaseService } from '../database/database.service.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { SilencesService } from './silences.service.js';
import { HoldService } from './hold.service.js';

const PAGE = 500;

// The partial index ix_incidents_held holds open held incidents only: the pass never
// reads the rest of the table. Exported for the query-plan spec.
export const HELD_SQL = `
  SELECT id FROM incidents
  WHERE open_key IS NOT NULL AND suppressed_by IS NOT NULL AND id > $1
  ORDER BY id LIMIT $2`;

/**
 * The reconciler's release pass: every open held incident is checked again, and the
 * trigger of one no longer held goes out to its route. Reads held incidents only (the
 * partial index ix_incidents_held); each release is conditional on the locked row, so
 * overlapping passes on several instances send a trigger once.
 */
@Injectable()
export class HoldReleaseService implements HoldReleaser {
  constructor(
    private readonly holds: HoldService,
    private readonly silences: SilencesService,
    private readonly incidents: IncidentService,
    private readonly db: DatabaseService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async releaseDue(): Promise<number> {
    // every tick reads the silences afresh: an instance that took no alerts still learns of them
    await this.silences.reload();
    let released = 0;
    let after = '';
    for (;;) {
      const rows = await this.db.read((m) =>
        this.db.query<{ id: string }>(m, HELD_SQL, [after, PAGE]),
      );
      for (const { id } of rows) {
        const sent = await this.incidents.release(id, (incident, w) =>
          this.holds.holdOf(
            incident,
            incident.route?.pageAfterUntil ?? null,
            this.clock.now().toISOString(),
            (sql, params) => w.query(sql, params),
          ),
        );
        if (sent) released++;
      }
      if (rows.length < PAGE) return released;
      after = rows[rows.length - 1].id;
    }
  }
}
