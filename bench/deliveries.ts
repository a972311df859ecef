// What each system's own fake PagerDuty received, folded into small tallies as it arrives
// so the fake does not hold tens of thousands of parsed events while latency is measured.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FakePagerDuty } from '../src/testing/fake-pagerduty.js';
import type { System } from './systems.js';
import { ID } from './wrk.js';

/** Bench ids as both systems print them in the PagerDuty summary (ours: alarm name; AM: label values). */
const BENCH_ID = /\b(b\d+[a-z]+)-[\w-]+/;

export class Deliveries {
  /** first trigger's arrival per bench id */
  readonly triggeredAt = new Map<string, number>();
  /** distinct dedup keys triggered, per phase prefix */
  private readonly perPrefix = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  duplicates = 0;
  rejected = 0;
  unmatched = 0;

  constructor(private readonly pd: FakePagerDuty) {}

  /** Moves what the fake received into the tallies. */
  absorb(): void {
    for (const req of this.pd.requests) {
      if (req.status !== null && req.status !== 202) this.rejected += 1;
    }
    for (const event of this.pd.received) {
      const action = String(event.body?.event_action);
      const key = `${action} ${event.dedupKey}`;
      const times = (this.seen.get(key) ?? 0) + 1;
      this.seen.set(key, times);
      if (times > 1) this.duplicates += 1;
      if (action !== 'trigger') continue;
      const match = BENCH_ID.exec(String(event.body?.payload?.summary ?? ''));
      if (!match) {
        this.unmatched += 1;
        continue;
      }
      if (!this.triggeredAt.has(match[0]))
        this.triggeredAt.set(match[0], event.receivedAt);
      // distinct dedup keys: two alerts paged under one key count once
      if (times === 1)
        this.perPrefix.set(match[1], (this.perPrefix.get(match[1]) ?? 0) + 1);
    }
    this.pd.reset();
  }

  triggered(prefix: string): number {
    return this.perPrefix.get(prefix) ?? 0;
  }

  /**
   * Waits until `count` distinct triggers of `prefix` arrived, at most `capMs`;
   * resolves with the arrival time (performance.now()) of the last one, or null.
   */
  async waitFor(
    prefix: string,
    count: number,
    capMs: number,
  ): Promise<number | null> {
    const deadline = performance.now() + capMs;
    for (;;) {
      this.absorb();
      if (this.triggered(prefix) >= count) return this.lastArrival(prefix);
      if (performance.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private lastArrival(prefix: string): number {
    let last = 0;
    for (const [id, at] of this.triggeredAt) {
      if (id.startsWith(`${prefix}-`) && at > last) last = at;
    }
    return last;
  }
}

function post(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const bodyOf = (system: System, ids: string[], array: boolean) => {
  const items = ids.map((id) => system.item.replace(ID, id));
  return array ? `[${items.join(',')}]` : items[0];
};

/**
 * New alerts in batches of `batch` until `count` were accepted; `concurrency` requests in
 * flight. Tops a system's history up to what the latency phase asks for.
 */
export async function sendBatches(
  system: System,
  prefix: string,
  count: number,
  batch = 1000,
  concurrency = 4,
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + batch);
      const ids = Array.from(
        { length: next - from },
        (_, i) => `${prefix}-${from + i}`,
      );
      const status = await post(
        agent,
        `${system.url}${system.path}`,
        system.headers,
        bodyOf(system, ids, true),
      );
      if (status >= 300) throw new Error(`${system.name} top-up: ${status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
}

export interface PacedResult {
  sent: number;
  delivered: number;
  non2xx: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * One new alert every 1/perSecond s, each its own POST: time from the send to the
 * trigger's arrival at the system's fake PagerDuty.
 */
export async function paced(
  system: System,
  deliveries: Deliveries,
  prefix: string,
  perSecond: number,
  seconds: number,
  capMs: number,
): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sentAt = new Map<string, number>();
  const total = perSecond * seconds;
  const start = performance.now();
  const posts: Promise<number>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `${prefix}-${i}`;
    sentAt.set(id, performance.now());
    posts.push(
      post(
        agent,
        `${system.url}${system.path}`,
        system.headers,
        bodyOf(system, [id], system.singleAsArray),
      ).catch(() => 0),
    );
  }
  const statuses = await Promise.all(posts);
  agent.destroy();
  const non2xx = statuses.filter((s) => s < 200 || s >= 300).length;
  await deliveries.waitFor(prefix, total - non2xx, capMs);
  const latencies = [...sentAt]
    .filter(([id]) => deliveries.triggeredAt.has(id))
    .map(([id, at]) => deliveries.triggeredAt.get(id)! - at)
    .sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length === 0
      ? NaN
      : latencies[
          Math.min(
            latencies.length - 1,
            Math.ceil((p / 100) * latencies.length) - 1,
          )
        ];
  return {
    sent: total,
    delivered: latencies.length,
    non2xx,
    p50: pct(50),
    p99: pct(99),
    max: latencies[latencies.length - 1] ?? NaN,
  };
}
