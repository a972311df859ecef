import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from '../../app.module.js';
import { configureApp, createAdapter } from '../../app.setup.js';
import { ServiceClient } from '../service-client.js';
import {
  FakePagerDuty,
  type FakePagerDutyRequest,
} from '../../testing/fake-pagerduty.js';
import type { ObservedEvent, SimulationTarget } from './simulation.types.js';
import { SnsTestSigner } from '../../testing/sns-test-signer.js';

export const DEFAULT_SNS_TOPIC_ARN =
  'arn:aws:sns:eu-central-1:123456789012:alerting-simulator';

/** A routing key of the right shape: the built-in fake accepts any 32-character key. */
const SIMULATOR_ROUTING_KEY = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6';

export interface InProcessOptions {
  /** start the SNS signer (and trust its certificate): only cloudwatch-alarm-cycle needs it */
  sns: boolean;
  /** the service's LOG_LEVEL; silent keeps the report alone on stdout */
  logLevel?: string;
}

/**
 * The service started inside the CLI: the real AppModule and edge on an in-memory SQLite,
 * PagerDuty replaced by the built-in fake. Retries are short so outages resolve in
 * seconds, and rate limits are off so a storm measures the pipeline, not the bucket.
 */
export async function startInProcessTarget(
  options: InProcessOptions,
): Promise<SimulationTarget> {
  const pagerDuty = new FakePagerDuty();
  await pagerDuty.start();
  let signer: SnsTestSigner | undefined;
  let app: NestFastifyApplication | undefined;
  try {
    signer = options.sns ? await SnsTestSigner.start() : undefined;
    const apiKey = randomBytes(16).toString('hex');
    const webhookSecret = randomBytes(24).toString('hex');
    const env: Record<string, string> = {
      // staging: production-like defaults without pino-pretty's worker on a terminal
      APP_ENV: 'staging',
      DATABASE_URL: 'sqlite::memory:',
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: SIMULATOR_ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pagerDuty.url,
      PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      RATE_LIMIT_PER_MINUTE: '0',
      INGEST_RATE_LIMIT_PER_MINUTE: '0',
      API_KEYS: apiKey,
      PAGERDUTY_WEBHOOK_SECRETS: webhookSecret,
      LOG_LEVEL: options.logLevel ?? 'silent',
      DELIVERY_RETRY_BASE: '100ms',
      DELIVERY_RETRY_MAX: '1s',
      DISPATCH_POLL_INTERVAL: '200ms',
      RECONCILE_INTERVAL: '1h',
      ...(signer
        ? {
            SNS_CERT_URL_PATTERN: signer.certUrlPattern.source,
            SNS_TOPIC_ARNS: DEFAULT_SNS_TOPIC_ARN,
          }
        : {}),
    };
    app = await NestFactory.create<NestFastifyApplication>(
      AppModule.forRoot(env),
      createAdapter(),
      {
        logger:
          options.logLevel && options.logLevel !== 'silent'
            ? ['error', 'warn']
            : false,
        abortOnError: false,
      },
    );
    configureApp(app);
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const started = app;
    const startedSigner = signer;
    return {
      label: 'in-process',
      client: new ServiceClient(url, apiKey),
      pagerDuty,
      signer,
      snsTopicArn: DEFAULT_SNS_TOPIC_ARN,
      pagerDutyWebhookSecret: webhookSecret,
      observe: async (keys) => fakeEvents(pagerDuty.requests, keys),
      async close() {
        await started.close();
        await startedSigner?.stop();
        await pagerDuty.stop();
      },
    };
  } catch (error) {
    await app?.close().catch(() => {});
    await signer?.stop().catch(() => {});
    await pagerDuty.stop();
    throw error;
  }
}

/** What the fake answered, per event: 202 delivered, a final 4xx dead, anything else a retry. */
export function fakeEvents(
  requests: readonly FakePagerDutyRequest[],
  keys: ReadonlySet<string>,
): ObservedEvent[] {
  const now = Date.now();
  const clock = performance.now();
  const out: ObservedEvent[] = [];
  for (const r of requests) {
    let body: { dedup_key?: unknown; event_action?: unknown };
    try {
      body = JSON.parse(r.rawBody);
    } catch {
      continue;
    }
    if (typeof body.dedup_key !== 'string' || !keys.has(body.dedup_key))
      continue;
    const status = r.status;
    const state: ObservedEvent['state'] =
      status === null
        ? 'pending'
        : status >= 200 && status < 300
          ? 'delivered'
          : status === 408 || status === 429 || status >= 500
            ? 'retrying'
            : 'dead';
    out.push({
      dedupKey: body.dedup_key,
      action: String(body.event_action),
      state,
      at: status === null ? null : Math.round(now - (clock - r.receivedAt)),
      ...(state === 'dead' || state === 'retrying'
        ? { error: `HTTP ${status}` }
        : {}),
    });
  }
  return out;
}

interface DeliveryRow {
  id: string;
  notifier: string;
  dedupKey: string;
  action: string;
  state: 'pending' | 'delivered' | 'dead';
  attempts: number;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/**
 * A running service: the simulator cannot see its PagerDuty, so it reads the service's
 * outbox (`GET /v1/deliveries`) for the run's keys. Latencies then use the service's
 * clock for delivery and ours for sending; keep the clocks in sync (NTP) to trust them.
 */
export function remoteTarget(
  client: ServiceClient,
  options: {
    snsTopicArn?: string;
    signer?: SnsTestSigner;
    notifier?: string;
    webhookSecret?: string;
  },
): SimulationTarget {
  const since = Date.now() - 10 * 60_000;
  const notifier = options.notifier ?? 'pagerduty';
  return {
    label: client.baseUrl,
    client,
    signer: options.signer,
    snsTopicArn: options.snsTopicArn ?? DEFAULT_SNS_TOPIC_ARN,
    pagerDutyWebhookSecret: options.webhookSecret,
    async observe(keys) {
      const rows: DeliveryRow[] = [];
      let cursor: string | null = null;
      // newest first: stop paging once a page reaches rows older than this run
      do {
        const query: string = `/v1/deliveries?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page: { items: DeliveryRow[]; nextCursor: string | null } =
          await client.call('GET', query);
        rows.push(...page.items);
        const oldest = page.items.at(-1);
        cursor =
          oldest && Date.parse(oldest.createdAt) >= since
            ? page.nextCursor
            : null;
      } while (cursor);
      return (
        rows
          .filter((d) => d.notifier === notifier && keys.has(d.dedupKey))
          // PagerDuty's order is delivery order; the outbox id only says what was enqueued first
          .sort(
            (a, b) =>
              deliveredTime(a) - deliveredTime(b) ||
              Number(a.id) - Number(b.id),
          )
          .map((d) => ({
            dedupKey: d.dedupKey,
            action: d.action,
            state:
              d.state === 'pending' && d.attempts > 0 ? 'retrying' : d.state,
            at: d.deliveredAt ? Date.parse(d.deliveredAt) : null,
            attempts: d.attempts,
            error: d.lastError,
            deliveryId: d.id,
          }))
      );
    },
    async close() {
      await options.signer?.stop();
    },
  };
}

const deliveredTime = (d: DeliveryRow) =>
  d.deliveredAt ? Date.parse(d.deliveredAt) : Number.MAX_SAFE_INTEGER;
