import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AlertingExceptionFilter } from './ops/alerting-exception.filter.js';
import type { AlertingConfig } from './config/alerting.config.js';
import { setupOpenApi } from './ops/openapi.js';
import { registerSecurityHeaders } from './ops/security.js';
import { registerRequestLog } from './ops/request-log.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** @param config `trustProxy`: behind a load balancer, whose X-Forwarded-For gives the client's address */
export function createAdapter(
  config?: Pick<AlertingConfig, 'trustProxy'>,
): FastifyAdapter {
  // Request ids are Fastify's (pino-http reuses them): a caller's X-Request-Id, else a UUID.
  return new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Per-address limits (keyless clients, failed API keys) need the client's address, not the proxy's.
    // Fastify takes a hop count too; the adapter's type does not say so.
    trustProxy: (config?.trustProxy ?? false) as boolean | string,
  });
}

/** The real edge, shared by main.ts and every e2e test: filters, parsers, docs, shutdown. */
export function configureApp(
  app: NestFastifyApplication,
): NestFastifyApplication {
  app.useGlobalFilters(new AlertingExceptionFilter());
  registerSecurityHeaders(app);
  registerRequestLog(app);
  refuseEncodedBodies(app);
  setupOpenApi(app);
  // No enableShutdownHooks(): Nest re-raises the signal after closing (exit by signal,
  // not 0), and every test app would add process listeners. main.ts installs
  // installGracefulShutdown instead; app.close() still runs every shutdown hook.
  return app;
}

/**
 * Fastify would hand a gzip body to the JSON parser as is, answering "not valid JSON",
 * which sends a sender looking in the wrong place. Say what is wrong instead.
 */
function refuseEncodedBodies(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      const encoding = request.headers['content-encoding']
        ?.trim()
        .toLowerCase();
      if (
        !encoding ||
        encoding === 'identity' ||
        request.method === 'GET' ||
        request.method === 'HEAD'
      )
        return done();
      void reply.status(415).send({
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: `compressed request bodies are not accepted (Content-Encoding: ${encoding.slice(0, 32)}); send the body uncompressed`,
      });
    });
}
