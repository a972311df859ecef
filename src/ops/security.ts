import helmet from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * Security headers on every answer. The API returns JSON, so the policy only has to let
 * the docs UI run: its own scripts from 'self' (no inline script), and the inline
 * styles swagger-ui sets on elements.
 */
export function registerSecurityHeaders(app: NestFastifyApplication): void {
  void app.register(helmet, {
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
}
