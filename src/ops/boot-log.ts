import { maskSecret, type AlertingConfig } from '../config/alerting.config.js';

/** What the service runs with, for the boot log: secrets masked, database password hidden. */
export function describeConfig(
  config: AlertingConfig,
): Record<string, unknown> {
  return {
    appEnv: config.appEnv,
    listen: `${config.host}:${config.port}`,
    database: redactUrlPassword(config.databaseUrl),
    notifiers: config.notifiers,
    pagerduty: {
      routingKey: maskSecret(config.pagerduty.routingKey),
      eventsUrl: config.pagerduty.eventsUrl,
      serviceName: config.pagerduty.serviceName,
      rateLimitPerMinute: config.pagerduty.rateLimitPerMinute,
      webhookSecrets: config.pagerduty.webhookSecrets.map((s) => maskSecret(s)),
    },
    apiKeys: config.apiKeys.map((k) => maskSecret(k)),
    rateLimitPerMinute: config.rateLimitPerMinute,
    ingestRateLimitPerMinute: config.ingestRateLimitPerMinute,
    authFailuresPerMinute: config.authFailuresPerMinute,
    trustProxy: config.trustProxy,
    databaseTimeouts: config.database,
    logLevel: config.logLevel,
  };
}

function redactUrlPassword(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}
