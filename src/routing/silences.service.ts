import {
  BadRequestException,
  Inject,
  Injectable,
  Logger,
} from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { parseDuration } from '../config/duration.js';
import {
  DatabaseService,
  type TxWriter,
} from '../database/database.service.js';
import { uuidv7 } from '../database/uuid7.js';
import { AlertingError } from '../ops/alerting.errors.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import {
  compileMatchers,
  MatcherIndex,
  type Matcher,
  type RoutableAlert,
} from './matcher.js';
import { Silence, silenceState, type SilenceState } from './silence.entity.js';

export interface CreateSilence {
  matchers?: unknown;
  startsAt?: unknown;
  endsAt?: unknown;
  duration?: unknown;
  comment?: unknown;
  createdBy?: unknown;
}

interface Cached {
  silence: Silence;
  match: Matcher;
}

const CREATE_KEYS = new Set([
  'matchers',
  'startsAt',
  'endsAt',
  'duration',
  'comment',
  'createdBy',
]);

/**
 * Silences, and the unexpired ones kept compiled in memory so that matching an opening
 * incident costs no query per alert. Another instance's new or expired silence is noticed
 * at the next batch that opens an incident: {@link refreshIn} asks the database for rows
 * changed at or after the newest change it knows (an index range of usually one row), and
 * reloads only when one is new. A full reload also runs on every release pass.
 */
@Injectable()
export class SilencesService {
  private readonly logger = new Logger(SilencesService.name);
  private cache: Cached[] = [];
  private index = new MatcherIndex([]);
  /** newest `updated_at` loaded, and the ids carrying it */
  private mark = '';
  private markIds = new Set<string>();
  private loaded = false;

  constructor(
    private readonly db: DatabaseService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The first silence active at `now` that matches, or null. */
  matching(alert: RoutableAlert, now: string): Silence | null {
    for (const i of this.index.candidates(alert)) {
      const c = this.cache[i];
      const s = c.silence;
      if (s.startsAt <= now && now < s.endsAt && c.match(alert)) return s;
    }
    return null;
  }

  get activeCount(): number {
    const now = this.clock.now().toISOString();
    return this.cache.filter(
      (c) => c.silence.startsAt <= now && now < c.silence.endsAt,
    ).length;
  }

  /** Within a transaction: reloads when any silence changed since the last load. */
  async refreshIn(w: TxWriter): Promise<void> {
    if (this.loaded) {
      const rows = await w.query<{ id: string; updated_at: string }>(
        'SELECT id, updated_at FROM silences WHERE updated_at >= $1',
        [this.mark],
      );
      if (
        rows.every((r) => r.updated_at === this.mark && this.markIds.has(r.id))
      )
        return;
    }
    await this.load(w.manager);
  }

  async reload(): Promise<void> {
    await this.db.read((m) => this.load(m));
  }

  private async load(m: EntityManager): Promise<void> {
    const now = this.clock.now().toISOString();
    // The mark first, the silences after: on PostgreSQL each statement sees its own
    // snapshot, and a silence committed between them must be in the cache if it is in the
    // mark (else the next refreshIn takes it as known and never loads it). Read in this
    // order, one committed in between is at worst reloaded once more.
    const [newest] = await this.db.query<{ updated_at: string }>(
      m,
      'SELECT MAX(updated_at) AS updated_at FROM silences',
      [],
    );
    const mark = newest?.updated_at ?? '';
    const markRows = mark
      ? await this.db.query<{ id: string }>(
          m,
          'SELECT id FROM silences WHERE updated_at = $1',
          [mark],
        )
      : [];
    const rows = await this.db.query(
      m,
      'SELECT * FROM silences WHERE ends_at > $1 ORDER BY starts_at, id',
      [now],
    );
    const cache: Cached[] = [];
    for (const row of rows) {
      const silence = this.db.fromRow(Silence, row);
      const match = compileMatchers(silence.matchers, 'matchers', []);
      if (match) cache.push({ silence, match });
      else
        this.logger.warn(
          `silence ${silence.id}: matchers no longer compile; ignored`,
        );
    }
    this.cache = cache;
    this.index = new MatcherIndex(cache.map((c) => c.match));
    this.mark = mark;
    this.markIds = new Set(markRows.map((r) => r.id));
    this.loaded = true;
  }

  async create(body: unknown): Promise<Silence> {
    const problems: string[] = [];
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new BadRequestException(['body must be a JSON object']);
    const b = body as CreateSilence;
    for (const k of Object.keys(b))
      if (!CREATE_KEYS.has(k)) problems.push(`property ${k} should not exist`);
    const now = this.clock.now();
    if (b.matchers === undefined) problems.push('matchers: required');
    else compileMatchers(b.matchers, 'matchers', problems);
    const time = (name: 'startsAt' | 'endsAt'): number | null => {
      const v = b[name];
      if (v === undefined) return null;
      const t =
        typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)
          ? Date.parse(v)
          : NaN;
      if (Number.isNaN(t))
        problems.push(`${name}: must be an ISO 8601 date-time`);
      return Number.isNaN(t) ? null : t;
    };
    const startsAt = time('startsAt') ?? now.getTime();
    let endsAt = time('endsAt');
    if (b.duration !== undefined) {
      const ms =
        typeof b.duration === 'string' || typeof b.duration === 'number'
          ? parseDuration(b.duration)
          : null;
      if (b.endsAt !== undefined)
        problems.push('duration: give endsAt or duration, not both');
      else if (!ms)
        problems.push('duration: must be a duration above 0 like 30m, 2h, 1d');
      else endsAt = startsAt + ms;
    } else if (b.endsAt === undefined)
      problems.push('endsAt: required (or duration)');
    if (endsAt !== null && endsAt <= startsAt)
      problems.push('endsAt: must be after startsAt');
    else if (endsAt !== null && endsAt <= now.getTime())
      problems.push('endsAt: must be in the future');
    const text = (name: 'comment' | 'createdBy', max: number) => {
      const v = b[name];
      if (typeof v !== 'string' || v.trim() === '' || v.length > max)
        problems.push(`${name}: required, 1–${max} characters`);
    };
    text('comment', 4096);
    text('createdBy', 255);
    if (problems.length > 0) throw new BadRequestException(problems);
    const at = now.toISOString();
    const silence: Silence = {
      id: uuidv7(),
      matchers: b.matchers as Record<string, unknown>,
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(endsAt!).toISOString(),
      comment: b.comment as string,
      createdBy: b.createdBy as string,
      createdAt: at,
      updatedAt: at,
    };
    await this.db.tx((m) => this.db.insert(m, Silence, silence));
    await this.reload();
    return silence;
  }

  async list(states: SilenceState[]): Promise<Silence[]> {
    const now = this.clock.now().toISOString();
    const rows = await this.db.read((m) =>
      m.find(Silence, { order: { startsAt: 'DESC', id: 'DESC' } }),
    );
    return states.length === 0
      ? rows
      : rows.filter((s) => states.includes(silenceState(s, now)));
  }

  async get(id: string): Promise<Silence> {
    const found = await this.db.read((m) => m.findOneBy(Silence, { id }));
    if (!found)
      throw new AlertingError('not-found', `no silence with id ${id}`);
    return found;
  }

  /** Ends it now (a pending one never starts); an expired one is left as it was. */
  async expire(id: string): Promise<Silence> {
    const silence = await this.db.tx(async (m) => {
      const found = await m.findOneBy(Silence, { id });
      if (!found)
        throw new AlertingError('not-found', `no silence with id ${id}`);
      const now = this.clock.now().toISOString();
      if (found.endsAt <= now) return found;
      const changes = {
        endsAt: now,
        startsAt: found.startsAt > now ? now : found.startsAt,
        updatedAt: now,
      };
      await m.update(Silence, { id }, changes);
      return Object.assign(found, changes);
    });
    await this.reload();
    return silence;
  }
}
