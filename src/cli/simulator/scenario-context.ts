import { randomBytes } from 'node:crypto';
import type { ServiceResponse } from '../service-client.js';
import type {
  ExpectationResult,
  ExpectationSpec,
  ObservedEvent,
  ScenarioReport,
  SimulationTarget,
  StepRecord,
} from './simulation.types.js';

const POLL_MS = 100;

/** What a scenario expects of one event: its action, and the time of the request that should cause it. */
export interface ExpectedEvent {
  action: string;
  /** epoch ms of the request that should produce it (see {@link ScenarioContext.send}) */
  after: number;
}

export const describeEvent = (e: ObservedEvent) =>
  `${e.action} ${e.dedupKey}: ${e.state}` +
  (e.attempts !== undefined ? ` after ${e.attempts} attempt(s)` : '') +
  (e.error ? ` (${e.error})` : '');

/**
 * The running scenario: sends requests, records steps, and decides expectations by
 * polling what the target observed. Every declared expectation ends up in the report,
 * decided or not, so a report always has one entry per expectation.
 */
export class ScenarioContext {
  readonly runId = randomBytes(3).toString('hex');
  readonly startedAt = Date.now();
  readonly steps: StepRecord[] = [];
  private readonly results = new Map<string, ExpectationResult>();
  private readonly keys = new Set<string>();

  constructor(
    readonly target: SimulationTarget,
    private readonly specs: ExpectationSpec[],
    private readonly progressLine: (line: string) => void,
  ) {}

  /** ms since the scenario started */
  elapsed(at = Date.now()): number {
    return at - this.startedAt;
  }

  /** Marks a dedup key as this run's: its events are observed, its dead deliveries reported. */
  track(...keys: string[]): void {
    for (const key of keys) this.keys.add(key);
  }

  step(name: string, detail?: string): number {
    const at = Date.now();
    this.steps.push({
      name,
      atMs: this.elapsed(at),
      ...(detail ? { detail } : {}),
    });
    return at;
  }

  progress(line: string): void {
    this.progressLine(line);
  }

  /** Sends a request; returns its answer and the time it was sent (for latencies). */
  async send(
    name: string,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ServiceResponse & { sentAt: number }> {
    const sentAt = Date.now();
    const res = await this.target.client.request(method, path, body, headers);
    this.steps.push({
      name,
      atMs: this.elapsed(sentAt),
      status: res.status,
      ...(res.status >= 300
        ? { detail: JSON.stringify(res.body)?.slice(0, 500) }
        : {}),
    });
    return { ...res, sentAt };
  }

  observe(keys: Iterable<string> = this.keys): Promise<ObservedEvent[]> {
    return this.target.observe(new Set(keys));
  }

  /** Records the outcome of a declared expectation. */
  decide(
    id: string,
    passed: boolean,
    message: string,
    extra: {
      observed?: ObservedEvent[];
      latenciesMs?: Record<string, number>;
    } = {},
  ): boolean {
    const spec = this.specs.find((s) => s.id === id);
    if (!spec) throw new Error(`scenario bug: undeclared expectation ${id}`);
    this.results.set(id, {
      ...spec,
      passed,
      message,
      durationMs: this.elapsed(),
      observed: (extra.observed ?? []).map(describeEvent),
      latenciesMs: extra.latenciesMs ?? {},
    });
    return passed;
  }

  /**
   * PagerDuty gets exactly `expected` for `dedupKey`, in that order, each within
   * `withinMs` of the request that caused it. Fails early on a dead delivery for the key,
   * since per-key ordering means nothing behind it can arrive.
   */
  async expectSequence(
    id: string,
    dedupKey: string,
    expected: ExpectedEvent[],
    withinMs: number,
  ): Promise<boolean> {
    this.track(dedupKey);
    const deadline = Math.max(...expected.map((e) => e.after)) + withinMs;
    let events: ObservedEvent[] = [];
    for (;;) {
      events = await this.observe([dedupKey]);
      const delivered = events.filter((e) => e.state === 'delivered');
      if (
        events.some((e) => e.state === 'dead') ||
        delivered.length >= expected.length ||
        Date.now() > deadline
      )
        break;
      await sleep(POLL_MS);
    }
    const delivered = events.filter((e) => e.state === 'delivered');
    const latenciesMs: Record<string, number> = {};
    delivered.forEach((e, i) => {
      if (e.at !== null && expected[i])
        latenciesMs[`${i + 1}. ${e.action}`] = e.at - expected[i].after;
    });
    const want = expected.map((e) => e.action).join(', ');
    const got = delivered.map((e) => e.action).join(', ');
    const dead = events.filter((e) => e.state === 'dead');
    if (dead.length > 0) {
      return this.decide(
        id,
        false,
        `dead delivery: ${dead.map(describeEvent).join('; ')}`,
        { observed: events, latenciesMs },
      );
    }
    if (got !== want) {
      return this.decide(
        id,
        false,
        `expected [${want}] within ${withinMs} ms, PagerDuty got [${got}]`,
        {
          observed: events,
          latenciesMs,
        },
      );
    }
    const late = Object.entries(latenciesMs).filter(([, ms]) => ms > withinMs);
    if (late.length > 0) {
      return this.decide(
        id,
        false,
        `late: ${late.map(([k, ms]) => `${k} after ${ms} ms`).join(', ')} (limit ${withinMs} ms)`,
        {
          observed: events,
          latenciesMs,
        },
      );
    }
    return this.decide(
      id,
      true,
      `[${got}] in order, slowest ${Math.max(...Object.values(latenciesMs))} ms`,
      {
        observed: events,
        latenciesMs,
      },
    );
  }

  /** Each key gets exactly one delivered `action` within `withinMs` of `after`; shows progress on stderr. */
  async expectEach(
    id: string,
    keys: string[],
    action: string,
    after: number,
    withinMs: number,
  ): Promise<boolean> {
    this.track(...keys);
    const wanted = new Set(keys);
    const deadline = after + withinMs;
    let lastShown = 0;
    let events: ObservedEvent[] = [];
    let done = 0;
    for (;;) {
      events = (await this.observe(wanted)).filter((e) => e.action === action);
      done = new Set(
        events.filter((e) => e.state === 'delivered').map((e) => e.dedupKey),
      ).size;
      if (Date.now() - lastShown > 500 || done === keys.length) {
        this.progress(`  ${action}: ${done}/${keys.length} delivered`);
        lastShown = Date.now();
      }
      if (
        done === keys.length ||
        events.some((e) => e.state === 'dead') ||
        Date.now() > deadline
      )
        break;
      await sleep(POLL_MS * 2);
    }
    const delivered = events.filter((e) => e.state === 'delivered');
    const times = delivered
      .map((e) => (e.at ?? deadline) - after)
      .sort((a, b) => a - b);
    const latenciesMs: Record<string, number> = times.length
      ? {
          p50: times[Math.floor(times.length / 2)],
          p95: times[Math.floor(times.length * 0.95)] ?? times.at(-1)!,
          max: times.at(-1)!,
        }
      : {};
    const dead = events.filter((e) => e.state === 'dead');
    const duplicates = delivered.length - done;
    const problems: string[] = [];
    if (done < keys.length)
      problems.push(
        `${done}/${keys.length} ${action}s delivered within ${withinMs} ms`,
      );
    if (duplicates > 0) problems.push(`${duplicates} duplicate ${action}(s)`);
    if (dead.length > 0)
      problems.push(
        `${dead.length} dead: ${dead.slice(0, 5).map(describeEvent).join('; ')}`,
      );
    const observed = problems.length
      ? [...dead, ...delivered.slice(0, 5)]
      : delivered.slice(0, 5);
    return this.decide(
      id,
      problems.length === 0,
      problems.length
        ? problems.join('; ')
        : `${done}/${keys.length} ${action}s delivered, max ${latenciesMs.max} ms`,
      { observed, latenciesMs },
    );
  }

  /** The report, with every declared expectation that was never decided marked failed. */
  report(
    scenario: string,
    summary: string,
    error?: unknown,
    deadDeliveries: ObservedEvent[] = [],
  ): ScenarioReport {
    const reason = error
      ? `not evaluated: the scenario stopped early (${describeError(error)})`
      : 'not evaluated';
    const expectations = this.specs.map(
      (spec) =>
        this.results.get(spec.id) ?? {
          ...spec,
          passed: false,
          message: reason,
          durationMs: this.elapsed(),
          observed: [],
          latenciesMs: {},
        },
    );
    return {
      scenario,
      summary,
      target: this.target.label,
      startedAt: new Date(this.startedAt).toISOString(),
      durationMs: this.elapsed(),
      passed: expectations.every((e) => e.passed) && !error,
      expectations,
      steps: this.steps,
      deadDeliveries,
      ...(error ? { error: describeError(error) } : {}),
    };
  }

  /** Dead deliveries of every key this run touched, for the report. */
  async deadDeliveries(): Promise<ObservedEvent[]> {
    if (this.keys.size === 0) return [];
    return (await this.observe()).filter((e) => e.state === 'dead');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } })
      .cause;
    return `${error.message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
  }
  return String(error);
}
