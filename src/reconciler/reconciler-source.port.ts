/** Injection token: the reconciler's sources of truth, as `ReconcilerSource[]`. */
export const RECONCILER_SOURCES = Symbol('RECONCILER_SOURCES');

/**
 * A system that knows better than silence whether an incident is over (CloudWatch: the
 * alarm is back in OK, or deleted). Asked once per reconciler tick, under the tick's lock;
 * it resolves what it finds through `IncidentService.resolveIf`, so a close stays
 * conditional, and returns its counters. A throw skips it for that tick, resolving nothing.
 */
export interface ReconcilerSource {
  /** names its error in the tick's result (`<name>Error`) */
  readonly name: string;
  /** for the log line when it cannot be asked */
  readonly label: string;
  /** the counters {@link reconcile} returns, zero on a tick that did not ask */
  readonly counters: readonly string[];
  reconcile(): Promise<Record<string, number>>;
}
