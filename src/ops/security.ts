import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import helmet from 'helmet';

/**
 * Security headers on every answer. The API returns JSON, so the policy only has to let
 * the docs UI run: its own scripts from 'self' (no inline script), and the inline
 * styles swagger-ui sets on elements.
 *
 * helmet's middleware is built once and run on the raw response: @fastify/helmet rebuilt
 * it (re-parsing the CSP) on every request, which cost more than validating an alert.
 */
export function registerSecurityHeaders(app: NestFastifyApplication): void {
  const headers = helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: [`'self'`],
        scriptSrc: [`'self'`],
        styleSrc: [`'self'`, `'unsafe-inline'`],
        imgSrc: [`'self'`, 'data:'],
        connectSrc: [`'self'`],
        objectSrc: [`'none'`],
        frameAncestors: [`'none'`],
      },
    },
  });
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) =>
      headers(request.raw, reply.raw, (error) =>
        done(error as Error | undefined),
      ),
    );
}
