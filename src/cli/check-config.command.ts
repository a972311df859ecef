import { parseArgs } from 'node:util';
import type { CliIo } from '../cloudwatch/alarms.cli.js';
import {
  ConfigValidationError,
  loadAlertingConfig,
  maskSecret,
  type AlertingConfig,
} from '../config/alerting.config.js';

export const CHECK_CONFIG_USAGE = `Usage: alerting check-config [--json] [--help]

Validates the environment exactly as the service does at boot and prints the effective
configuration (defaults applied, secrets shown as **** + last 4 characters).
Exits 1 listing every offending variable.

  --json   print the effective configuration as JSON`;

/** The effective configuration with every secret masked: what an operator may paste in a ticket. */
export function maskedConfig(config: AlertingConfig): Record<string, unknown> {
  return {
    ...config,
    databaseUrl: redactUrl(config.databaseUrl),
    pagerduty: {
      ...config.pagerduty,
      routingKey: maskSecret(config.pagerduty.routingKey),
      webhookSecrets: config.pagerduty.webhookSecrets.map((s) => maskSecret(s)),
    },
    // Webhook URLs often carry a token in the path or query (Slack, Teams).
    webhookUrl: config.webhookUrl
      ? redactUrl(config.webhookUrl, true)
      : undefined,
    apiKeys: config.apiKeys.map((k) => maskSecret(k)),
  };
}

export function runCheckConfig(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): number {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    io.out(CHECK_CONFIG_USAGE);
    return 0;
  }
  let config: AlertingConfig;
  try {
    config = loadAlertingConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    io.err(`configuration invalid: ${error.problems.length} problem(s)`);
    for (const problem of error.problems) io.err(`  - ${problem}`);
    return 1;
  }
  const masked = maskedConfig(config);
  if (values.json) {
    io.out(JSON.stringify(masked, null, 2));
  } else {
    io.out('configuration valid; effective settings:');
    for (const line of flatten(masked)) io.out(`  ${line}`);
  }
  for (const warning of warnings(config)) io.err(`warning: ${warning}`);
  return 0;
}

function warnings(config: AlertingConfig): string[] {
  const out: string[] = [];
  if (config.apiKeys.length === 0)
    out.push('API_KEYS is empty: the /v1 API is open without authentication');
  if (config.notifiers?.length === 1 && config.notifiers[0] === 'log') {
    out.push('NOTIFIERS is log only: nobody is paged');
  }
  return out;
}

function flatten(value: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, v]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return flatten(v as Record<string, unknown>, path);
    }
    return [`${path} = ${v === undefined ? '(unset)' : JSON.stringify(v)}`];
  });
}

function redactUrl(raw: string, hidePathAndQuery = false): string {
  if (!/^[a-z]+:\/\//i.test(raw)) return raw;
  try {
    const url = new URL(raw);
    if (url.password) url.password = '****';
    if (hidePathAndQuery && (url.pathname.length > 1 || url.search))
      return `${url.origin}/****`;
    return url.toString();
  } catch {
    return '(unparseable URL)';
  }
}
