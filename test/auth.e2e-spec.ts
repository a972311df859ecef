import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';
import { configureApp, createAdapter } from '../src/app.setup.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ALERTING_DATA_SOURCE } from '../src/database/data-source.options.js';
import { BAD_SQLITE_PATHS } from './support/bad-sqlite-paths.js';
import { ServerProcess } from './support/server-process.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { TEST_API_KEY } from './support/test-app.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

describe('API keys on /v1 (e2e)', () => {
  let app: NestFastifyApplication;
  let db: TestDatabase;
  const routes: { method: string; url: string }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [
        AppModule.forRoot({
          DATABASE_URL: db.url,
          API_KEYS: `other-key-000000000000,${TEST_API_KEY}`,
          LOG_LEVEL: 'warn',
          // every route with four wrong keys from one address: the lockout has its own suite
          AUTH_FAILURES_PER_MINUTE: '0',
        }),
      ],
    }).compile();
    const adapter = createAdapter();
    adapter.getInstance().addHook('onRoute', (r) => {
      for (const method of [r.method].flat())
        if (method !== 'HEAD' && method !== 'OPTIONS')
          routes.push({ method, url: r.url });
    });
    app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, {
      logger: ['error'],
    });
    configureApp(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  // authenticated by their signatures instead
  const SIGNED = ['/v1/sns', '/v1/pagerduty/webhooks'];
  const v1 = () =>
    routes.filter((r) => r.url.startsWith('/v1/') && !SIGNED.includes(r.url));
  const call = (r: { method: string; url: string }) =>
    (request(app.getHttpServer()) as any)[r.method.toLowerCase()](
      r.url.replace(/:(\w+)/g, 'x'),
    ) as request.Test;

  it('answers 401 on every /v1 route without a key, with a wrong key, and stores nothing', async () => {
    expect(v1().length).toBeGreaterThanOrEqual(10);
    for (const r of v1()) {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong-key' },
        { 'x-api-key': 'wrong-key' },
        { authorization: `Basic ${TEST_API_KEY}` },
        { 'x-api-key': `${TEST_API_KEY}x` },
      ]) {
        const res = await call(r)
          .set(headers)
          .send({ severity: 'critical', alarmName: 'sneaky' });
        expect(
          res.status,
          `${r.method} ${r.url} with ${JSON.stringify(headers)}`,
        ).toBe(401);
        expect(res.body).toEqual({
          statusCode: 401,
          error: 'Unauthorized',
          message: expect.any(String),
        });
      }
    }
    expect(
      await app
        .get<DataSource>(getDataSourceToken(ALERTING_DATA_SOURCE))
        .getRepository(Incident)
        .count(),
    ).toBe(0);
  });

  it('lets a right key through in either header', async () => {
    const server = app.getHttpServer();
    await request(server)
      .get('/v1/incidents')
      .set('Authorization', `Bearer ${TEST_API_KEY}`)
      .expect(200);
    await request(server)
      .get('/v1/incidents')
      .set('authorization', `bearer ${TEST_API_KEY}`)
      .expect(200);
    await request(server)
      .get('/v1/incidents')
      .set('X-API-Key', TEST_API_KEY)
      .expect(200);
    await request(server)
      .get('/v1/incidents')
      .set('X-API-Key', 'other-key-000000000000')
      .expect(200);
    await request(server)
      .post('/v1/alerts')
      .set('X-API-Key', TEST_API_KEY)
      .send({ severity: 'info', alarmName: 'with-key' })
      .expect(202);
    expect(
      await app
        .get<DataSource>(getDataSourceToken(ALERTING_DATA_SOURCE))
        .getRepository(Incident)
        .countBy({ dedupKey: 'with-key' }),
    ).toBe(1);
  });

  it('leaves /v1/sns to its signature check, and probes, metrics and docs open', async () => {
    const server = app.getHttpServer();
    expect(routes.some((r) => r.url === '/v1/sns')).toBe(true);
    const sns = await request(server)
      .post('/v1/sns')
      .set('content-type', 'text/plain')
      .send('{}');
    expect(sns.status).not.toBe(401);
    expect(routes.some((r) => r.url === '/v1/pagerduty/webhooks')).toBe(true);
    // no PAGERDUTY_WEBHOOK_SECRETS here: the route itself answers, not the API key guard
    await request(server).post('/v1/pagerduty/webhooks').send({}).expect(503);
    await request(server).get('/health/live').expect(200);
    await request(server).get('/metrics').expect(200);
    await request(server).get('/docs-json').expect(200);
  });
});

/** Starts the built service with `env` and waits for it to exit on its own. */
async function bootUntilExit(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, NOTIFIERS: 'log', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (c) => resolve(c)),
  );
  return { code, stderr };
}

describe('API keys at boot (real process; build first)', () => {
  it('refuses to start in production without API_KEYS: exit 1 and a clear message', async () => {
    const { code, stderr } = await bootUntilExit({
      APP_ENV: 'production',
      DATABASE_URL: 'sqlite::memory:',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('Invalid configuration');
    expect(stderr).toContain('API_KEYS: required when APP_ENV is production');
  });

  it.each(BAD_SQLITE_PATHS)(
    'refuses a SQLite DATABASE_URL where %s: exit 1 at once, naming it',
    async (_, url, reason) => {
      const dir = mkdtempSync(join(tmpdir(), 'alerting-db-'));
      try {
        const databaseUrl = url(dir);
        const started = performance.now();
        const { code, stderr } = await bootUntilExit({
          DATABASE_URL: databaseUrl,
        });
        expect(code).toBe(1);
        expect(stderr).toContain(`DATABASE_URL ${databaseUrl}: `);
        expect(stderr).toMatch(reason);
        // not after the ORM's nine connection retries, 3 s apart
        expect(performance.now() - started).toBeLessThan(10_000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('runs open in development without keys, and says so at boot', async () => {
    const server = await ServerProcess.start({
      API_KEYS: '',
      LOG_LEVEL: 'info',
      DATABASE_URL: 'sqlite::memory:',
    });
    try {
      const res = await fetch(`${server.url}/v1/incidents`);
      expect(res.status).toBe(200);
      const warning = server.output
        .join('')
        .split('\n')
        .find((l) => l.includes('open without authentication'));
      expect(JSON.parse(warning!)).toMatchObject({ level: 40 });
    } finally {
      await server.kill('SIGTERM');
    }
    expect(server.exitCode).toBe(0);
  });
});
