import { isIP } from 'node:net';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { parseDuration } from './duration.js';
import {
  EnvSchema,
  splitList,
  DEFAULT_DELIVERY_CONCURRENCY,
  type APP_ENVS,
  type LOG_LEVELS,
} from './env.schema.js';

export type AppEnv = (typeof APP_ENVS)[number];
export type NotifierName = 'pagerduty' | 'sns' | 'webhook' | 'log';

/** Injection token of the resolved {@link AlertingConfig}, provided by the alerting module. */
export const ALERTING_CONFIG = Symbol('ALERTING_CONFIG');

/** Typed configuration of the alerting service, built once from the environment at boot. */
export interface AlertingConfig {
  port: number;
  host: string;
  /** Fastify's trustProxy: whose X-Forwarded-For to believe for the client's address */
  trustProxy: boolean | number | string;
  appEnv: AppEnv;
  databaseUrl: string;
  /** the notifier adapters deliveries go to; null: every adapter registered in the app */
  notifiers: string[] | null;
  /** run the dispatcher's polling fallback and the reconciler's ticks (module option `schedule`) */
  schedule: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
  pagerduty: {
    routingKey?: string;
    eventsUrl: string;
    serviceName: string;
    escalationPolicyId?: string;
    client: string;
    clientUrl?: string;
    rateLimitPerMinute: number;
    /** secrets of the V3 webhook subscriptions allowed to post to /v1/pagerduty/webhooks */
    webhookSecrets: string[];
  };
  webhookUrl?: string;
  sns: { topicArn?: string; topicAllowlist: string[]; certUrlPattern: string };
  aws: { region: string; endpointUrl?: string };
  alert: { component: string; group: string };
  links: {
    cloudwatchDashboardName: string;
    appDashboardUrl?: string;
    appDashboardName: string;
  };
  apiKeys: string[];
  /** requests per client (API key, else address) per minute on the standalone app; 0 turns it off */
  rateLimitPerMinute: number;
  /** the same for the ingestion routes, a budget of their own; 0 turns it off */
  ingestRateLimitPerMinute: number;
  /** failed API key checks per source address per minute before it is refused; 0 turns it off */
  authFailuresPerMinute: number;
  /** PostgreSQL: give up connecting / waiting for a statement after this long (503 to the client) */
  database: { connectTimeoutMs: number; queryTimeoutMs: number };
  incidentResolveTimeoutMs: number;
  reconcileIntervalMs: number;
  /** ROUTING_FILE: routes, named PagerDuty keys, inhibit rules (standalone service) */
  routingFile?: string;
  /** the reconciler also asks CloudWatch DescribeAlarms about alarm incidents (RECONCILE_CLOUDWATCH) */
  reconcileCloudWatch: boolean;
  delivery: {
    retryBaseMs: number;
    retryMaxMs: number;
    maxAgeMs: number;
    /** whole budget of one send (PagerDuty, webhook, SNS), connect to last byte read */
    timeoutMs: number;
    leaseMs: number;
    pollIntervalMs: number;
    /** deliveries in flight at once, all notifiers together (DELIVERY_CONCURRENCY) */
    concurrency: number;
  };
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigValidationError';
  }
}

type Env = Record<string, string | undefined>;

/** The longest delay setTimeout/setInterval honour (about 24.8 days). */
const TIMER_MAX_MS = 2 ** 31 - 1;

/** Delivery tuning beyond the core settings; the README lists it under Configuration. */
const EXTRA_DURATIONS = {
  DELIVERY_RETRY_BASE: '1s',
  DELIVERY_RETRY_MAX: '5m',
  DELIVERY_MAX_AGE: '24h',
  DELIVERY_TIMEOUT: '10s',
  DELIVERY_LEASE: '30s',
  DISPATCH_POLL_INTERVAL: '1s',
  DATABASE_CONNECT_TIMEOUT: '5s',
  DATABASE_QUERY_TIMEOUT: '5s',
} as const;

/** Shorter keys can be guessed; the guard also stops an address after repeated failures. */
export const MIN_API_KEY_LENGTH = 16;

/**
 * Validates the whole environment and returns the typed config, or throws one
 * {@link ConfigValidationError} listing every offending variable.
 */
export function loadAlertingConfig(
  rawEnv: Env,
  { embedded = false }: { embedded?: boolean } = {},
): AlertingConfig {
  // An empty variable means "unset" to an operator, not "set to nothing".
  const env: Env = Object.fromEntries(
    Object.entries(rawEnv).filter(
      ([, v]) => v !== undefined && v.trim() !== '',
    ),
  );
  const schema = plainToInstance(EnvSchema, env);
  const problems = validateSync(schema, { forbidUnknownValues: false }).map(
    (e) => `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`,
  );

  const appEnv = (schema.APP_ENV ?? 'development') as AppEnv;
  const notifiers = splitList(
    env.NOTIFIERS ?? (appEnv === 'development' ? 'log' : 'pagerduty'),
  );
  // Embedded, the adapters bring their own settings and the host its own auth.
  if (embedded) notifiers.length = 0;
  if (notifiers.includes('pagerduty') && !env.PAGERDUTY_ROUTING_KEY) {
    problems.push(
      'PAGERDUTY_ROUTING_KEY: required when the pagerduty notifier is enabled',
    );
  }
  if (notifiers.includes('webhook') && !env.WEBHOOK_URL) {
    problems.push('WEBHOOK_URL: required when the webhook notifier is enabled');
  }
  if (notifiers.includes('sns') && !env.SNS_TOPIC_ARN) {
    problems.push('SNS_TOPIC_ARN: required when the sns notifier is enabled');
  }
  const apiKeys = splitList(env.API_KEYS);
  if (!embedded && appEnv !== 'development' && apiKeys.length === 0) {
    problems.push(`API_KEYS: required when APP_ENV is ${appEnv}`);
  }
  const short = apiKeys.filter((k) => k.length < MIN_API_KEY_LENGTH).length;
  if (short > 0) {
    // Neither the keys nor their position: a message may end up in a ticket.
    problems.push(
      `API_KEYS: every key needs at least ${MIN_API_KEY_LENGTH} characters; ${short} of ${apiKeys.length} ${short === 1 ? 'is' : 'are'} shorter`,
    );
  }
  const durations: Record<string, number> = {};
  for (const [name, fallback] of Object.entries(EXTRA_DURATIONS)) {
    const parsed = parseDuration(env[name] ?? fallback);
    if (parsed === null)
      problems.push(`${name}: must be a duration like 500ms, 30s, 5m, 4h, 1d`);
    durations[name] = parsed ?? 0;
  }
  // A zero period would make the reconciler's setInterval spin, and so would one over
  // 2^31-1 ms (Node clamps it to 1 ms with a warning).
  const reconcileMs = parseDuration(env.RECONCILE_INTERVAL ?? '30s');
  if (reconcileMs === 0) problems.push('RECONCILE_INTERVAL: must be above 0');
  if (reconcileMs !== null && reconcileMs > TIMER_MAX_MS)
    problems.push('RECONCILE_INTERVAL: must be at most 24d');
  // Zero would mean waiting forever on a database that accepts connections and never answers.
  for (const name of ['DATABASE_CONNECT_TIMEOUT', 'DATABASE_QUERY_TIMEOUT'])
    if (env[name] !== undefined && parseDuration(env[name]) === 0)
      problems.push(`${name}: must be above 0`);
  const trustProxy = parseTrustProxy(env.TRUST_PROXY);
  if (trustProxy === null)
    problems.push(
      'TRUST_PROXY: must be true, false, a hop count, or a comma list of proxy addresses/CIDRs',
    );
  if (problems.length > 0) throw new ConfigValidationError(problems);

  return {
    port: schema.PORT ?? 3000,
    host: env.HOST ?? '0.0.0.0',
    trustProxy: trustProxy ?? false,
    appEnv,
    databaseUrl: env.DATABASE_URL ?? 'sqlite:./data/alerting.sqlite',
    notifiers: [...new Set(notifiers)],
    schedule: true,
    logLevel: schema.LOG_LEVEL ?? 'info',
    pagerduty: {
      routingKey: env.PAGERDUTY_ROUTING_KEY,
      eventsUrl:
        env.PAGERDUTY_EVENTS_URL ?? 'https://events.pagerduty.com/v2/enqueue',
      serviceName: env.PAGERDUTY_SERVICE_NAME ?? 'Hybrid Routing Alerts',
      escalationPolicyId: env.PAGERDUTY_ESCALATION_POLICY_ID,
      client: env.PAGERDUTY_CLIENT ?? 'orchestrator-alerting',
      clientUrl: env.PAGERDUTY_CLIENT_URL,
      rateLimitPerMinute: schema.PAGERDUTY_RATE_LIMIT_PER_MINUTE ?? 120,
      webhookSecrets: splitList(env.PAGERDUTY_WEBHOOK_SECRETS),
    },
    webhookUrl: env.WEBHOOK_URL,
    sns: {
      topicArn: env.SNS_TOPIC_ARN,
      topicAllowlist: splitList(env.SNS_TOPIC_ARNS),
      certUrlPattern:
        env.SNS_CERT_URL_PATTERN ??
        '^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/',
    },
    aws: {
      region: env.AWS_REGION ?? 'eu-central-1',
      endpointUrl: env.AWS_ENDPOINT_URL,
    },
    alert: {
      component: env.ALERT_COMPONENT ?? 'hybrid-routing',
      group: env.ALERT_GROUP ?? 'ai-orchestrator',
    },
    links: {
      cloudwatchDashboardName:
        env.CLOUDWATCH_DASHBOARD_NAME ?? 'HybridRoutingMonitoring',
      appDashboardUrl: env.APP_DASHBOARD_URL,
      appDashboardName: env.APP_DASHBOARD_NAME ?? 'Hybrid Routing Dashboard',
    },
    apiKeys,
    rateLimitPerMinute: schema.RATE_LIMIT_PER_MINUTE ?? 6000,
    ingestRateLimitPerMinute: schema.INGEST_RATE_LIMIT_PER_MINUTE ?? 60_000,
    authFailuresPerMinute: schema.AUTH_FAILURES_PER_MINUTE ?? 20,
    database: {
      connectTimeoutMs: durations.DATABASE_CONNECT_TIMEOUT,
      queryTimeoutMs: durations.DATABASE_QUERY_TIMEOUT,
    },
    incidentResolveTimeoutMs: parseDuration(
      env.INCIDENT_RESOLVE_TIMEOUT ?? '4h',
    )!,
    reconcileIntervalMs: parseDuration(env.RECONCILE_INTERVAL ?? '30s')!,
    routingFile: env.ROUTING_FILE,
    // Unset: on where this instance already talks to AWS, so it has credentials and a region;
    // a deployment that only receives SNS deliveries may have no CloudWatch permissions.
    reconcileCloudWatch: env.RECONCILE_CLOUDWATCH
      ? env.RECONCILE_CLOUDWATCH === 'true'
      : Boolean(env.AWS_ENDPOINT_URL || env.SNS_TOPIC_ARN),
    delivery: {
      retryBaseMs: durations.DELIVERY_RETRY_BASE,
      retryMaxMs: durations.DELIVERY_RETRY_MAX,
      maxAgeMs: durations.DELIVERY_MAX_AGE,
      timeoutMs: durations.DELIVERY_TIMEOUT,
      leaseMs: durations.DELIVERY_LEASE,
      pollIntervalMs: durations.DISPATCH_POLL_INTERVAL,
      concurrency: schema.DELIVERY_CONCURRENCY ?? DEFAULT_DELIVERY_CONCURRENCY,
    },
  };
}

function parseTrustProxy(
  value: string | undefined,
): boolean | number | string | null {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = splitList(value);
  const valid = entries.every((entry) => {
    const [address, bits, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    if (bits === undefined) return true;
    return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
  });
  return valid && entries.length > 0 ? entries.join(',') : null;
}

/** Below this length the last 4 characters would give away too much of a secret. */
const MIN_MASKED_TAIL_LENGTH = 16;

/**
 * `****` + last 4 characters: how every secret appears in logs, responses and the CLI.
 * A secret shorter than 16 characters shows as `****` alone.
 */
export function maskSecret(value: string | undefined | null): string | null {
  if (!value) return null;
  if (value.length < MIN_MASKED_TAIL_LENGTH) return '****';
  return `****${value.slice(-4)}`;
}

/**
 * The alerting module's configuration as a host passes it (`AlertingModule.forRoot({ config })`):
 * every field optional, durations as `30s`/`4h` or milliseconds. Never read from `process.env`.
 */
export interface AlertingOptions {
  /** `development` (default), `staging` or `production`: the incidents' default environment */
  appEnv?: AppEnv;
  /**
   * Names of the notifier adapters deliveries go to, built-in (`pagerduty`, `sns`, `webhook`,
   * `log`) or the host's own (`@NotifierAdapter()`). Default: every adapter registered in the app.
   */
  notifiers?: string[];
  /** default resolve timeout of an incident nobody updates; default `4h` */
  resolveTimeout?: string | number;
  /** reconciler period; default `30s` */
  reconcileInterval?: string | number;
  /** PagerDuty `component` and `group` when the alert names none */
  component?: string;
  group?: string;
  awsRegion?: string;
  /** a local AWS fake (CloudWatch reconcile, SNS publish) */
  awsEndpointUrl?: string;
  cloudwatchDashboardName?: string;
  appDashboardUrl?: string;
  appDashboardName?: string;
  /**
   * PagerDuty settings the `pagerduty` adapter starts from (`PagerDutyModule.forRoot(...)`
   * options win over these); the routing key can change at runtime.
   */
  pagerduty?: {
    routingKey?: string;
    eventsUrl?: string;
    serviceName?: string;
    escalationPolicyId?: string;
    client?: string;
    clientUrl?: string;
    rateLimitPerMinute?: number;
  };
  /** outbox tuning; defaults 1s, 5m, 24h, 30s, 1s */
  delivery?: {
    retryBase?: string | number;
    retryMax?: string | number;
    maxAge?: string | number;
    lease?: string | number;
    pollInterval?: string | number;
    /** one send's budget, connect included; default 10s */
    timeout?: string | number;
    /** deliveries in flight at once, all notifiers together; default 32 */
    concurrency?: string | number;
  };
}

/** Each option and the environment variable of the standalone service it stands for. */
const OPTION_ENV: Record<string, string> = {
  appEnv: 'APP_ENV',
  resolveTimeout: 'INCIDENT_RESOLVE_TIMEOUT',
  reconcileInterval: 'RECONCILE_INTERVAL',
  component: 'ALERT_COMPONENT',
  group: 'ALERT_GROUP',
  awsRegion: 'AWS_REGION',
  awsEndpointUrl: 'AWS_ENDPOINT_URL',
  cloudwatchDashboardName: 'CLOUDWATCH_DASHBOARD_NAME',
  appDashboardUrl: 'APP_DASHBOARD_URL',
  appDashboardName: 'APP_DASHBOARD_NAME',
  'delivery.retryBase': 'DELIVERY_RETRY_BASE',
  'delivery.retryMax': 'DELIVERY_RETRY_MAX',
  'delivery.maxAge': 'DELIVERY_MAX_AGE',
  'delivery.lease': 'DELIVERY_LEASE',
  'delivery.pollInterval': 'DISPATCH_POLL_INTERVAL',
  'delivery.timeout': 'DELIVERY_TIMEOUT',
  'delivery.concurrency': 'DELIVERY_CONCURRENCY',
  'pagerduty.routingKey': 'PAGERDUTY_ROUTING_KEY',
  'pagerduty.eventsUrl': 'PAGERDUTY_EVENTS_URL',
  'pagerduty.serviceName': 'PAGERDUTY_SERVICE_NAME',
  'pagerduty.escalationPolicyId': 'PAGERDUTY_ESCALATION_POLICY_ID',
  'pagerduty.client': 'PAGERDUTY_CLIENT',
  'pagerduty.clientUrl': 'PAGERDUTY_CLIENT_URL',
  'pagerduty.rateLimitPerMinute': 'PAGERDUTY_RATE_LIMIT_PER_MINUTE',
};
const NESTED = ['delivery', 'pagerduty'] as const;

/**
 * Defaults applied and every field validated, through the same rules as the standalone
 * environment: one {@link ConfigValidationError} names every bad option.
 */
export function resolveAlertingConfig(
  options: AlertingOptions = {},
  {
    schedule = true,
    auth,
  }: { schedule?: boolean; auth?: false | { apiKeys: string[] } } = {},
): AlertingConfig {
  const env: Env = {};
  const problems: string[] = [];
  const apiKeys = auth ? auth.apiKeys : [];
  if (
    auth &&
    (!Array.isArray(apiKeys) ||
      apiKeys.some((k) => typeof k !== 'string' || k === ''))
  )
    problems.push('auth.apiKeys: must be a list of non-empty keys');
  const flat: Record<string, unknown> = { ...options };
  delete flat.notifiers;
  for (const group of NESTED) {
    delete flat[group];
    for (const [k, v] of Object.entries(options[group] ?? {}))
      flat[`${group}.${k}`] = v;
  }
  for (const [option, value] of Object.entries(flat)) {
    if (value === undefined) continue;
    const name = OPTION_ENV[option];
    if (!name) problems.push(`${option}: unknown option`);
    else if (typeof value !== 'string' && typeof value !== 'number')
      problems.push(`${option}: must be a string`);
    else env[name] = String(value);
  }
  const notifiers = options.notifiers;
  if (
    notifiers !== undefined &&
    (!Array.isArray(notifiers) ||
      notifiers.some((n) => typeof n !== 'string' || n.trim() === ''))
  )
    problems.push('notifiers: must be a list of notifier names');
  const byEnv = new Map(Object.entries(OPTION_ENV).map(([o, e]) => [e, o]));
  let config: AlertingConfig | undefined;
  try {
    config = loadAlertingConfig(env, { embedded: true });
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    problems.push(
      ...error.problems.map((p) => {
        const name = p.slice(0, p.indexOf(':'));
        return byEnv.has(name)
          ? `${byEnv.get(name)}${p.slice(name.length)}`
          : p;
      }),
    );
  }
  if (
    config &&
    auth !== false &&
    apiKeys.length === 0 &&
    config.appEnv !== 'development'
  )
    problems.push(
      `auth: apiKeys required when appEnv is ${config.appEnv} (or auth: false to leave the routes to the host's guard)`,
    );
  if (problems.length > 0 || !config) throw new ConfigValidationError(problems);
  return {
    ...config,
    notifiers: notifiers ? [...new Set(notifiers)] : null,
    apiKeys: auth ? [...apiKeys] : [],
    schedule,
  };
}

/** The standalone service's environment as module options (see {@link AlertingOptions}). */
export function alertingOptionsFromEnv(env: Env): AlertingOptions {
  const options: Record<string, unknown> = {};
  const nested: Record<string, Record<string, string>> = {
    delivery: {},
    pagerduty: {},
  };
  for (const [option, name] of Object.entries(OPTION_ENV)) {
    const value = env[name];
    if (value === undefined || value.trim() === '') continue;
    const [group, key] = option.split('.');
    if (key) nested[group][key] = value;
    else options[option] = value;
  }
  return {
    ...options,
    ...nested,
    notifiers: loadAlertingConfig(env).notifiers ?? undefined,
  } as AlertingOptions;
}
