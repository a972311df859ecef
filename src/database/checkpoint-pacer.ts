/** SQLite's WAL checkpoint threshold at rest, in pages: short pauses, each commit waits less. */
export const REST_CHECKPOINT_PAGES = 250;
/** ... and while writes queue behind each other: fewer, larger checkpoints. */
export const BUSY_CHECKPOINT_PAGES = 4000;

/** Weight of the latest commit in the running average of units per commit. */
const SMOOTHING = 0.1;
/** The average at which the writer counts as busy, and the one at which it rests again. */
const BUSY_FROM = 2;
const REST_FROM = 1.25;

/**
 * Sets SQLite's `wal_autocheckpoint` by how busy the single writer is. A checkpoint runs
 * inside the commit that crosses the threshold, on the event loop, and copies the newest
 * version of every page the WAL holds, then syncs twice.
 *
 * - At rest each commit holds one unit of work; a small threshold keeps each of those
 *   pauses short, which is what the latency of a page at a steady rate depends on.
 * - When units queue while a commit runs (several per commit), throughput is the limit.
 *   The same hot pages (index leaves, the tables' last pages) are rewritten by every
 *   commit, so a large threshold copies each of them once instead of once per few
 *   commits, and syncs less often.
 *
 * The signal is the running average of units per commit: about 1.05 at 200 alerts/s
 * one by one, 3.8 under 16 connections sending new alerts as fast as they are answered.
 */
export class CheckpointPacer {
  private average = 1;
  private busy = false;

  constructor(private readonly setPages: (pages: number) => void) {}

  get pages(): number {
    return this.busy ? BUSY_CHECKPOINT_PAGES : REST_CHECKPOINT_PAGES;
  }

  /** After each commit, with the number of units (write transactions) it held. */
  committed(units: number): void {
    this.average += (units - this.average) * SMOOTHING;
    const busy = this.busy
      ? this.average > REST_FROM
      : this.average >= BUSY_FROM;
    if (busy === this.busy) return;
    // set first: if the connection refuses, the next commit tries again
    this.setPages(busy ? BUSY_CHECKPOINT_PAGES : REST_CHECKPOINT_PAGES);
    this.busy = busy;
  }
}
