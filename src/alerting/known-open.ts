import { Injectable } from '@nestjs/common';
import type { Incident } from './incident.entity.js';

/** What a repeat of an open incident needs to know of it. */
export type KnownIncident = Pick<
  Incident,
  | 'id'
  | 'severity'
  | 'currentValue'
  | 'threshold'
  | 'description'
  | 'lastTransitionAt'
>;

/** Keys remembered at most; the oldest is forgotten first (it is read again on its next alert). */
const MAX_KNOWN = 10_000;

/**
 * SQLite (one process owns the file): the open incidents this process committed or read,
 * by dedup key, so that a repeat of one is answered without waiting for the database.
 *
 * A key is forgotten, synchronously, as soon as anything may close its incident (a
 * resolving alert, a manual or automatic resolve, a PagerDuty webhook): a repeat arriving
 * after that takes the database path and queues behind the close. Work that read a key
 * while a close was under way must not remember it: {@link epoch} changes with every
 * forget, and {@link remember} is given the epoch its work started in.
 */
@Injectable()
export class KnownOpenIncidents {
  private readonly byKey = new Map<string, KnownIncident>();
  private generation = 0;

  get epoch(): number {
    return this.generation;
  }

  get(dedupKey: string): KnownIncident | undefined {
    return this.byKey.get(dedupKey);
  }

  /** Copies the few fields a repeat needs (never the incident's details: memory stays small). */
  remember(dedupKey: string, incident: KnownIncident, since: number): void {
    if (since !== this.generation) return;
    this.byKey.delete(dedupKey);
    if (this.byKey.size >= MAX_KNOWN)
      this.byKey.delete(this.byKey.keys().next().value!);
    this.byKey.set(dedupKey, {
      id: incident.id,
      severity: incident.severity,
      currentValue: incident.currentValue,
      threshold: incident.threshold,
      description: incident.description,
      lastTransitionAt: incident.lastTransitionAt,
    });
  }

  forget(dedupKey: string): void {
    this.generation++;
    this.byKey.delete(dedupKey);
  }

  forgetId(incidentId: string): void {
    this.generation++;
    for (const [key, known] of this.byKey)
      if (known.id === incidentId) this.byKey.delete(key);
  }

  /** When the key is not known before the close is decided (a PagerDuty webhook). */
  forgetAll(): void {
    this.generation++;
    this.byKey.clear();
  }
}
