import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DataSource } from 'typeorm';
import { parse as parseYaml } from 'yaml';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { Clock } from '../../ops/clock.js';
import {
  DeliveryDispatcher,
  HEAD_OF_ITS_KEY,
} from '../../notifier/delivery.dispatcher.js';
import { DatabaseService } from '../../database/database.service.js';
import { Delivery } from '../../notifier/delivery.entity.js';
import { ReconcilerService } from '../../reconciler/reconciler.service.js';
import { AppModule } from '../../app.module.js';
import { configureApp, createAdapter } from '../../app.setup.js';
import { parseDuration } from '../../config/duration.js';
import { ALERTING_DATA_SOURCE } from '../../database/data-source.options.js';
import { ServiceClient } from '../service-client.js';
import {
  FakePagerDuty,
  type FakePagerDutyRequest,
} from '../../testing/fake-pagerduty.js';
import { SnsTestSigner } from '../../testing/sns-test-signer.js';
import type { ObservedEvent, Scenario } from './scenario.types.js';

export const DEFAULT_SNS_TOPIC_ARN =
  'arn:aws:sns:eu-central-1:123456789012:alerting-scenarios';
/** The built-in fake accepts any 32-character key. */
export const DEFAULT_ROUTING_KEY = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6';

/** Where a file runs: the service under test, its clock, and what reached its notifiers. */
export interface Driver {
  readonly label: string;
  readonly inProcess: boolean;
  readonly client: ServiceClient;
  readonly pagerDuty?: FakePagerDuty;
  readonly signer?: SnsTestSigner;
  readonly snsTopicArn: string;
  /** signs PagerDuty webhook steps; in process the runner sets it in the service's env */
  readonly webhookSecret?: string;
  /** routing key names (the routing file's pagerduty.keys, `default`) to keys; in process only */
  readonly routingKeys: Record<string, string>;
  /** the reconciler's period in process (RECONCILE_INTERVAL of the file's env) */
  readonly tickMs: number;
  /** the service's clock, epoch ms */
  now(): number;
  /** in process: moves the clock by `ms`, running the reconciler every RECONCILE_INTERVAL on the way */
  advance(ms: number): Promise<void>;
  /** in process: returns once nothing due is left in the outbox; against a target, at once */
  settle(): Promise<void>;
  /** events every notifier received since the file started, in arrival order */
  events(notifier: string): Promise<ObservedEvent[]>;
  /** deliveries to the notifier refused for good since the file started */
  dead(notifier: string): Promise<DeadDelivery[]>;
  close(): Promise<void>;
}

/** real time plus what the scenario added: due retries still come due, `advance` jumps ahead */
class MovableClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

export interface DeadDelivery {
  id: string;
  action: string;
  dedupKey: string;
  attempts: number;
  lastError: string | null;
}

interface DeliveryRow {
  id: string;
  notifier: string;
  dedupKey: string;
  action: string;
  state: 'pending' | 'delivered' | 'dead';
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** Every outbox row created at or after `since` (epoch ms), newest first pages read until older. */
async function deliveriesSince(
  client: ServiceClient,
  since: number,
  state?: string,
): Promise<DeliveryRow[]> {
  const rows: DeliveryRow[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `/v1/deliveries?limit=500${state ? `&state=${state}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page: { items: DeliveryRow[]; nextCursor: string | null } =
      await client.call('GET', query);
    rows.push(...page.items.filter((d) => Date.parse(d.createdAt) >= since));
    const oldest = page.items.at(-1);
    cursor =
      oldest && Date.parse(oldest.createdAt) >= since ? page.nextCursor : null;
  } while (cursor);
  return rows.reverse();
}

async function deadSince(
  client: ServiceClient,
  since: number,
  notifier: string,
): Promise<DeadDelivery[]> {
  return (await deliveriesSince(client, since, 'dead'))
    .filter((d) => d.notifier === notifier)
    .map(({ id, action, dedupKey, attempts, lastError }) => ({
      id,
      action,
      dedupKey,
      attempts,
      lastError,
    }));
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The routing file's `pagerduty.keys`, `${VAR}` read from the file's env, plus `default`. */
function routingKeyNames(
  scenario: Scenario,
  env: Record<string, string>,
): Record<string, string> {
  const names: Record<string, string> = {
    default: env.PAGERDUTY_ROUTING_KEY,
  };
  let doc: unknown;
  if (scenario.routing && 'path' in scenario.routing)
    doc = parseYaml(readFileSync(scenario.routing.path, 'utf8'));
  else if (scenario.routing) doc = scenario.routing.inline;
  const keys = (doc as { pagerduty?: { keys?: Record<string, unknown> } })
    ?.pagerduty?.keys;
  for (const [name, value] of Object.entries(keys ?? {}))
    names[name] = String(value).replace(
      /\$\{(\w+)\}/g,
      (_, v: string) => env[v] ?? '',
    );
  return names;
}

export interface InProcessOptions {
  /** the service's LOG_LEVEL; silent keeps reports alone on stdout */
  logLevel?: string;
}

/**
 * The real AppModule on an in-memory SQLite, PagerDuty replaced by the built-in fake and
 * the clock by one the file moves. One service per file: its `env` and routing are its own.
 */
export async function startInProcess(
  scenario: Scenario,
  options: InProcessOptions = {},
): Promise<Driver> {
  const pagerDuty = new FakePagerDuty();
  await pagerDuty.start();
  const clock = new MovableClock();
  let signer: SnsTestSigner | undefined;
  let app: NestFastifyApplication | undefined;
  let routingDir: string | undefined;
  try {
    if (scenario.steps.some((s) => s.kind === 'cloudwatch'))
      signer = await SnsTestSigner.start();
    const apiKey = randomBytes(16).toString('hex');
    const webhookSecret =
      scenario.env.PAGERDUTY_WEBHOOK_SECRETS?.split(',')[0]?.trim() ||
      randomBytes(16).toString('hex');
    let routingFile: string | undefined;
    if (scenario.routing && 'path' in scenario.routing)
      routingFile = scenario.routing.path;
    else if (scenario.routing) {
      routingDir = mkdtempSync(join(tmpdir(), 'alerting-routing-'));
      routingFile = join(routingDir, 'routing.json');
      writeFileSync(routingFile, JSON.stringify(scenario.routing.inline));
    }
    const env: Record<string, string> = {
      // staging: production-like defaults without pino-pretty's worker on a terminal
      APP_ENV: 'staging',
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: DEFAULT_ROUTING_KEY,
      PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      RATE_LIMIT_PER_MINUTE: '0',
      INGEST_RATE_LIMIT_PER_MINUTE: '0',
      DELIVERY_RETRY_BASE: '50ms',
      DELIVERY_RETRY_MAX: '500ms',
      PAGERDUTY_WEBHOOK_SECRETS: webhookSecret,
      ...(signer
        ? {
            SNS_CERT_URL_PATTERN: signer.certUrlPattern.source,
            SNS_TOPIC_ARNS: DEFAULT_SNS_TOPIC_ARN,
          }
        : {}),
      ...scenario.env,
      ...(routingFile ? { ROUTING_FILE: routingFile } : {}),
      // what makes it in-process: not the file's to change
      DATABASE_URL: 'sqlite::memory:',
      PAGERDUTY_EVENTS_URL: pagerDuty.url,
      API_KEYS: apiKey,
      LOG_LEVEL: options.logLevel ?? 'silent',
      DISPATCH_POLL_INTERVAL: '25ms',
    };
    const tickMs = parseDuration(env.RECONCILE_INTERVAL ?? '30s') ?? 30_000;
    // The reconciler runs when the file moves the clock, never by the wall clock.
    env.RECONCILE_INTERVAL = '1d';
    app = await NestFactory.create<NestFastifyApplication>(
      AppModule.forRoot(env, { clock }),
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
    const client = new ServiceClient(url, apiKey);
    const reconciler = app.get(ReconcilerService, { strict: false });
    const dispatcher = app.get(DeliveryDispatcher, { strict: false });
    const started = app;
    const startedSigner = signer;
    const routingKeys = routingKeyNames(scenario, env);
    const cleanup = routingDir;

    const startedAt = clock.now().getTime();
    let nextTickAt = startedAt + tickMs;
    const seenAt = new WeakMap<FakePagerDutyRequest, number>();
    // Read straight from the outbox table: settle runs once per step and per reconcile
    // interval an advance crosses, and a round trip through the HTTP API costs ~50 ms.
    const outbox = app
      .get<DataSource>(getDataSourceToken(ALERTING_DATA_SOURCE))
      .getRepository(Delivery);
    const db = app.get(DatabaseService, { strict: false });
    /**
     * When each sendable row is due: the oldest pending row of each notifier and key, as
     * the dispatcher claims them. A row behind it (a resolve behind its trigger in
     * backoff) waits for it, so it is due when its head is, not at its own time.
     */
    const headsDueAt = async (): Promise<number[]> =>
      (
        await db.read((m) =>
          db.query<{ next_attempt_at: string }>(
            m,
            `SELECT d.next_attempt_at FROM deliveries d WHERE d.state = 'pending' AND ${HEAD_OF_ITS_KEY}`,
            [],
          ),
        )
      ).map((r) => Date.parse(r.next_attempt_at));
    /** True once nothing is due or in flight; false when it gave up waiting (10 s). */
    const settle = async (): Promise<boolean> => {
      const limit = Date.now() + 10_000;
      for (;;) {
        const now = clock.now().getTime();
        const due = (await headsDueAt()).filter((at) => at <= now).length;
        // a claimed row is leased, so not due, while its request is still on the way
        const busy =
          dispatcher.inflightCount > 0 ||
          pagerDuty.requests.some((r) => r.status === null);
        const quiet = due === 0 && !busy;
        if (quiet || Date.now() > limit) {
          // what arrived is stamped now, not when an expectation first looks
          const at = clock.now().getTime() - startedAt;
          for (const r of pagerDuty.requests)
            if (r.status !== null && !seenAt.has(r)) seenAt.set(r, at);
          return quiet;
        }
        dispatcher.wake();
        await sleep(2);
      }
    };

    return {
      label: 'in-process',
      inProcess: true,
      client,
      pagerDuty,
      signer,
      snsTopicArn: DEFAULT_SNS_TOPIC_ARN,
      webhookSecret,
      routingKeys,
      tickMs,
      now: () => clock.now().getTime(),
      settle: async () => void (await settle()),
      /**
       * A discrete-event walk: the clock jumps to whichever comes first, the next
       * reconciler tick (every RECONCILE_INTERVAL since the file started) or the next
       * delivery retry coming due, so backoffs and ticks interleave as they would live.
       */
      async advance(ms) {
        const until = clock.now().getTime() + ms;
        let quiet = true;
        for (;;) {
          const now = clock.now().getTime();
          if (now >= until) return;
          const due = Math.min(...(await headsDueAt()));
          // A retry that came due since the last settle is sent before the clock moves
          // on, not jumped over; one that stays stuck past a settle's wait is left behind.
          if (due <= now && quiet) {
            quiet = await settle();
            continue;
          }
          const to = Math.min(until, nextTickAt, due > now ? due : Infinity);
          clock.offsetMs += Math.max(0, to - clock.now().getTime());
          if (clock.now().getTime() >= nextTickAt) {
            nextTickAt += tickMs;
            await reconciler.tick();
          }
          quiet = await settle();
        }
      },
      async events(notifier) {
        const now = clock.now().getTime() - startedAt;
        if (notifier === 'pagerduty') {
          const out: ObservedEvent[] = [];
          const failed = new Map<string, number>();
          for (const [index, r] of pagerDuty.requests.entries()) {
            if (!seenAt.has(r) && r.status !== null) seenAt.set(r, now);
            let body: Record<string, any>;
            try {
              body = JSON.parse(r.rawBody);
            } catch {
              continue;
            }
            const id = `${body.event_action} ${body.dedup_key}`;
            if (r.status === null || r.status < 200 || r.status > 299) {
              failed.set(id, (failed.get(id) ?? 0) + 1);
              continue;
            }
            out.push({
              id: `pd-${index}`,
              notifier,
              action: String(body.event_action),
              dedupKey: String(body.dedup_key),
              atMs: seenAt.get(r) ?? now,
              body,
              attempts: (failed.get(id) ?? 0) + 1,
            });
            failed.delete(id);
          }
          return out;
        }
        return (await deliveriesSince(client, startedAt, 'delivered'))
          .filter((d) => d.notifier === notifier)
          .map((d) => ({
            id: d.id,
            notifier,
            action: d.action,
            dedupKey: d.dedupKey,
            atMs: Date.parse(d.deliveredAt ?? d.createdAt) - startedAt,
            attempts: d.attempts,
          }))
          .sort((a, b) => a.atMs - b.atMs);
      },
      async dead(notifier) {
        const rows = await outbox.find({
          where: { state: 'dead', notifier },
          order: { id: 'ASC' },
        });
        return rows.map((d) => ({
          id: String(d.id),
          action: d.action,
          dedupKey: d.dedupKey,
          attempts: d.attempts,
          lastError: d.lastError,
        }));
      },
      async close() {
        await started.close();
        await startedSigner?.stop();
        await pagerDuty.stop();
        if (cleanup) rmSync(cleanup, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await app?.close().catch(() => {});
    await signer?.stop().catch(() => {});
    await pagerDuty.stop();
    if (routingDir) rmSync(routingDir, { recursive: true, force: true });
    throw error;
  }
}

export interface TargetOptions {
  /** a topic in the target's SNS_TOPIC_ARNS, for cloudwatch steps */
  snsTopicArn?: string;
  /** a secret of the target's PAGERDUTY_WEBHOOK_SECRETS, for pagerduty steps */
  webhookSecret?: string;
  /** start the SNS signer (the target must trust its certificate URL) */
  signer?: SnsTestSigner;
}

/**
 * A running service: its outbox (`GET /v1/deliveries`) says what reached each notifier.
 * Times use the service's clock for deliveries and ours for requests; keep both on NTP.
 */
export function targetDriver(
  client: ServiceClient,
  options: TargetOptions,
): Driver {
  // rows a little older than the file can be its own: the two clocks differ by a little
  const startedAt = Date.now();
  return {
    label: client.baseUrl,
    inProcess: false,
    client,
    signer: options.signer,
    snsTopicArn: options.snsTopicArn ?? DEFAULT_SNS_TOPIC_ARN,
    webhookSecret: options.webhookSecret,
    routingKeys: {},
    tickMs: 250,
    now: () => Date.now(),
    settle: async () => {},
    advance: () =>
      Promise.reject(new Error('a running service keeps its own clock')),
    async events(notifier) {
      return (await deliveriesSince(client, startedAt - 5_000, 'delivered'))
        .filter((d) => d.notifier === notifier)
        .map((d) => ({
          id: d.id,
          notifier,
          action: d.action,
          dedupKey: d.dedupKey,
          atMs: Date.parse(d.deliveredAt ?? d.createdAt) - startedAt,
          attempts: d.attempts,
        }))
        .sort((a, b) => a.atMs - b.atMs);
    },
    dead: (notifier) => deadSince(client, startedAt - 5_000, notifier),
    async close() {},
  };
}
