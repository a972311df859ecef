import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AlertingExceptionFilter } from './alerting/alerting-exception.filter.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export function createAdapter(): FastifyAdapter {
  return new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES });
}

/** The real edge, shared by main.ts and every e2e test: filters, parsers, docs, shutdown. */
export function configureApp(app: NestFastifyApplication): NestFastifyApplication {
  app.useGlobalFilters(new AlertingExceptionFilter());
  app.enableShutdownHooks();
  return app;
}
