import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';

/** Probes and scrapes every few seconds would drown the request lines that matter. */
const UNLOGGED = /^\/(health|metrics)\b/;

/**
 * One JSON line per request ("request completed", its id, method, URL, client address,
 * status and time), written by a Fastify hook through the application's pino logger.
 * pino-http as a Nest middleware gave the same line at about a fifth of an ingest's CPU:
 * Fastify runs Express-style middleware through a compatibility layer, and the
 * per-request AsyncLocalStorage it set up taxed every promise of the request.
 */
export function registerRequestLog(app: NestFastifyApplication): void {
  // the logger exists once nestjs-pino's LoggerModule is imported (the standalone app)
  try {
    app.get(Logger, { strict: false });
  } catch {
    return;
  }
  const root = PinoLogger.root;
  if (!root) return;
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request, reply, done) => {
      const statusCode = reply.statusCode;
      const level = statusCode >= 500 ? 'error' : 'info';
      if (root.isLevelEnabled(level) && !UNLOGGED.test(request.url)) {
        // the raw objects, as pino-http logged them: the serializers (logging.ts) pick the fields
        (request.raw as { id?: string }).id = request.id;
        root[level](
          {
            req: request.raw,
            res: reply.raw,
            responseTime: Math.round(reply.elapsedTime),
          },
          'request completed',
        );
      }
      done();
    });
}
