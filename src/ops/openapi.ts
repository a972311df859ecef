import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  DocumentBuilder,
  SwaggerModule,
  type OpenAPIObject,
} from '@nestjs/swagger';
import { API_KEY_SCHEME, BEARER_SCHEME } from './api-key.guard.js';

export const DOCS_PATH = 'docs';

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Alerting API</title>
<link rel="stylesheet" href="/${DOCS_PATH}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="/${DOCS_PATH}/swagger-init.js"></script>
</body></html>`;

// A file, not an inline script, so the CSP can forbid inline scripts everywhere.
const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/${DOCS_PATH}-json', dom_id: '#swagger-ui', persistAuthorization: true });`;

/**
 * Adds the security schemes the alerting routes declare (`bearer`, `api-key`) to a host's
 * OpenAPI document, so its docs show how to authenticate them.
 *
 * ```ts
 * const config = addAlertingOpenApi(new DocumentBuilder().setTitle('Host')).build();
 * ```
 */
export function addAlertingOpenApi(builder: DocumentBuilder): DocumentBuilder {
  return builder
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'one of API_KEYS' },
      BEARER_SCHEME,
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-API-Key',
        description: 'one of API_KEYS',
      },
      API_KEY_SCHEME,
    );
}

export function openApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = addAlertingOpenApi(
    new DocumentBuilder()
      .setTitle('Orchestrator alerting')
      .setDescription(
        'Ingests alerts, keeps incidents and notifies on-call. `/v1/*` needs `Authorization: Bearer <key>` ' +
          'or `X-API-Key: <key>` (except `/v1/sns`, authenticated by the SNS signature).',
      )
      .setVersion('1'),
  ).build();
  return SwaggerModule.createDocument(app, config);
}

/**
 * `/docs-json` (and `-yaml`) through @nestjs/swagger; the UI's assets are served here
 * from swagger-ui-dist because its stock UI on Fastify needs @fastify/static.
 */
export function setupOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, () => openApiDocument(app), {
    ui: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  const require = createRequire(import.meta.url);
  const assets = dirname(
    require.resolve('swagger-ui-dist/package.json', {
      paths: [require.resolve('@nestjs/swagger')],
    }),
  );
  const files: Record<string, { type: string; body?: string | Buffer }> = {
    'swagger-ui.css': { type: 'text/css; charset=utf-8' },
    'swagger-ui-bundle.js': { type: 'application/javascript; charset=utf-8' },
  };
  fastify.get(`/${DOCS_PATH}`, (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(INDEX_HTML),
  );
  fastify.get(`/${DOCS_PATH}/swagger-init.js`, (_req, reply) =>
    reply.type('application/javascript; charset=utf-8').send(INIT_JS),
  );
  for (const [name, file] of Object.entries(files)) {
    fastify.get(`/${DOCS_PATH}/${name}`, (_req, reply) => {
      file.body ??= readFileSync(join(assets, name));
      return reply
        .type(file.type)
        .header('Cache-Control', 'public, max-age=86400')
        .send(file.body);
    });
  }
}
