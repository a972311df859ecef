import {
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DatabaseService } from '../database/database.service.js';

/** The metrics of every app running the module in this process (one, outside tests). */
const live = new Set<AlertingMetrics>();

/**
 * The service's Prometheus metrics, in a registry of its own so that several app
 * instances in one process (tests) never collide. No process metrics: those belong to
 * whoever owns the process (the standalone's /metrics adds them).
 */
@Injectable()
export class AlertingMetrics
  implements OnApplicationBootstrap, OnModuleDestroy
{
  readonly registry = new Registry();
  private readonly alerts = new Counter({
    name: 'alerting_alerts_ingested_total',
    help: 'Alerts accepted, by ingestion source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  private readonly notifications = new Counter({
    name: 'alerting_notifications_total',
    help: 'Delivery outcomes by notifier and action: delivered, retry, throttled (held by our rate limit, not sent), dead',
    labelNames: ['notifier', 'action', 'outcome'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'alerting_delivery_latency_seconds',
    help: 'From the transition being committed to the notifier accepting it',
    labelNames: ['notifier'],
    buckets: [
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
    ],
    registers: [this.registry],
  });

  private readonly suppressed = new Counter({
    name: 'alerting_alerts_suppressed_total',
    help: 'Alerts that opened an incident without paging, by hold reason: silence, inhibit, pageAfter',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly released = new Counter({
    name: 'alerting_holds_released_total',
    help: 'Held incidents whose trigger was sent when the hold ended while they were open',
    registers: [this.registry],
  });
  private readonly routingReloads = new Counter({
    name: 'alerting_routing_reloads_total',
    help: 'Routing file loads after boot (SIGHUP, POST /v1/routing/reload), by result: ok, failed (old rules kept)',
    labelNames: ['result'],
    registers: [this.registry],
  });

  /** counted once the app is up: an app whose start failed is never closed */
  onApplicationBootstrap(): void {
    live.add(this);
  }

  onModuleDestroy(): void {
    live.delete(this);
  }

  constructor(db: DatabaseService) {
    for (const reason of ['silence', 'inhibit', 'pageAfter'])
      this.suppressed.inc({ reason }, 0);
    new Gauge({
      name: 'alerting_incidents',
      help: 'Incidents by status',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        const rows = await db.read((m) =>
          db.query(
            m,
            `SELECT status, COUNT(*) AS n FROM incidents GROUP BY status`,
            [],
          ),
        );
        this.reset();
        for (const status of ['triggered', 'acknowledged', 'resolved'])
          this.set({ status }, 0);
        for (const r of rows as { status: string; n: string | number }[])
          this.set({ status: r.status }, Number(r.n));
      },
    });
    new Gauge({
      name: 'alerting_outbox_deliveries',
      help: 'Outbox rows by state (pending, dead)',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const stats = await outboxStats(db);
        this.set({ state: 'pending' }, stats.pending);
        this.set({ state: 'dead' }, stats.dead);
      },
    });
    new Gauge({
      name: 'alerting_outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest pending delivery (0 when none)',
      registers: [this.registry],
      async collect() {
        this.set((await outboxStats(db)).oldestPendingAgeSeconds);
      },
    });
  }

  alertIngested(source: string): void {
    this.alerts.inc({ source });
  }

  notification(
    notifier: string,
    action: string,
    outcome: 'delivered' | 'retry' | 'throttled' | 'dead',
  ): void {
    this.notifications.inc({ notifier, action, outcome });
  }

  alertSuppressed(reason: string): void {
    this.suppressed.inc({ reason });
  }

  holdReleased(): void {
    this.released.inc();
  }

  routingReload(result: 'ok' | 'failed'): void {
    this.routingReloads.inc({ result });
  }

  deliveryLatency(notifier: string, seconds: number): void {
    this.latency.observe({ notifier }, seconds);
  }
}

export interface OutboxStats {
  pending: number;
  dead: number;
  oldestPendingAgeSeconds: number;
}

export async function outboxStats(db: DatabaseService): Promise<OutboxStats> {
  const rows = (await db.read((m) =>
    db.query(
      m,
      `SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE state IN ('pending', 'dead') GROUP BY state`,
      [],
    ),
  )) as { state: string; n: string | number; oldest: string | null }[];
  const by = new Map(rows.map((r) => [r.state, r]));
  const oldest = by.get('pending')?.oldest;
  return {
    pending: Number(by.get('pending')?.n ?? 0),
    dead: Number(by.get('dead')?.n ?? 0),
    oldestPendingAgeSeconds: oldest
      ? Math.max(0, (Date.now() - Date.parse(oldest)) / 1000)
      : 0,
  };
}

/** Reads the metrics of the running apps' AlertingMetrics at every call. */
class LiveAlertingRegistry extends Registry {
  override getMetricsAsArray() {
    return [...live].flatMap((m) => m.registry.getMetricsAsArray());
  }

  override async metrics(): Promise<string> {
    const parts = await Promise.all([...live].map((m) => m.registry.metrics()));
    return parts.join('\n');
  }

  override async getMetricsAsJSON() {
    const parts = await Promise.all(
      [...live].map((m) => m.registry.getMetricsAsJSON()),
    );
    return parts.flat();
  }
}

/**
 * The alerting metrics (`alerting_*`: alerts ingested, deliveries, latency, incidents and
 * outbox by state) as a prom-client Registry for a host to serve beside its own, once the
 * app is created: `Registry.merge([register, alertingMetricsRegistry])`, or its
 * `metrics()` appended to the host's. No process metrics: the host has its own.
 */
export const alertingMetricsRegistry: Registry = new LiveAlertingRegistry();
