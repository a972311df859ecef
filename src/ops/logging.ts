import { createRequire } from 'node:module';
import type { Params } from 'nestjs-pino';
import type { AlertingConfig } from '../config/alerting.config.js';

/**
 * Secrets by where they can appear in a log object. Belt and braces: the serializers
 * below never emit headers, and no log message interpolates a key (`maskSecret`).
 * Explicit paths only: wildcard paths made redaction the costliest step of a log line.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'routingKey',
  'routing_key',
  'apiKeys',
  'apiKey',
  'config.apiKeys',
  'config.pagerduty.routingKey',
  'config.pagerduty.webhookSecrets',
  'webhookSecrets',
  'event.routing_key',
  'event.routingKey',
];

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** nestjs-pino options: JSON, one line per request with its id (see createAdapter), level from `LOG_LEVEL`. */
export function loggerParams(config: AlertingConfig): Params {
  // Pretty only for a developer's terminal: it costs a worker thread and its lines are not parseable.
  const pretty =
    config.appEnv === 'development' &&
    process.stdout.isTTY &&
    prettyAvailable();
  return {
    // No middleware: the request line comes from a Fastify hook (see request-log.ts).
    forRoutes: [],
    pinoHttp: {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: {
          id: string;
          method: string;
          url: string;
          remoteAddress?: string;
        }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      transport: pretty
        ? { target: 'pino-pretty', options: { singleLine: true } }
        : undefined,
    },
  };
}
