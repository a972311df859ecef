import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';
import { configureApp, createAdapter } from '../src/app.setup.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import {
  createTestApp,
  ROUTING_KEY,
  TEST_API_KEY,
  type TestApp,
} from './support/test-app.js';

export interface Route {
  method: string;
  url: string;
}

/** The real app with Fastify's route table recorded as routes are added. */
async function appWithRouteTable(env: Record<string, string>) {
  const db: TestDatabase = await createTestDatabase();
  const moduleRef = await Test.createTestingModule({
    imports: [
      AppModule.forRoot({
        DATABASE_URL: db.url,
        API_KEYS: TEST_API_KEY,
        LOG_LEVEL: 'warn',
        ...env,
      }),
    ],
  }).compile();
  const adapter = createAdapter();
  const routes: Route[] = [];
  adapter.getInstance().addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });
  const app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, {
    logger: ['error'],
  });
  configureApp(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    routes: routes.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS'),
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

const alert = (over: Record<string, unknown> = {}) => ({
  severity: 'critical',
  alarmName: `alarm-${Math.random().toString(36).slice(2)}`,
  metricName: 'ErrorRate',
  ...over,
});

describe('Operations: docs, headers, limits, health, metrics (e2e)', () => {
  describe('OpenAPI', () => {
    let h: Awaited<ReturnType<typeof appWithRouteTable>>;
    beforeAll(async () => {
      h = await appWithRouteTable({});
    });
    afterAll(() => h?.close());

    it('/docs-json lists every route Fastify serves, each body-taking POST/PATCH with its request schema', async () => {
      const doc = (
        await request(h.app.getHttpServer()).get('/docs-json').expect(200)
      ).body;
      const served = h.routes
        .filter((r) => !r.url.startsWith('/docs'))
        .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`)
        .sort();
      const documented = Object.entries(
        doc.paths as Record<string, Record<string, any>>,
      )
        .flatMap(([path, ops]) =>
          Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
        )
        .sort();
      expect(served.length).toBeGreaterThan(10);
      expect(documented).toEqual(served);

      for (const [path, ops] of Object.entries(
        doc.paths as Record<string, Record<string, any>>,
      )) {
        for (const [method, op] of Object.entries(ops)) {
          if (method !== 'post' && method !== 'patch') continue;
          // Lifecycle actions (…/acknowledge, …/resolve, …/retry, …/apply, …/reload) take no body.
          if (/\/(acknowledge|resolve|retry|apply|reload)$/.test(path))
            continue;
          const content = op.requestBody?.content ?? {};
          const schema = Object.values(
            content as Record<string, { schema?: unknown }>,
          )[0]?.schema;
          expect(
            schema,
            `${method.toUpperCase()} ${path} has a request schema`,
          ).toBeTruthy();
        }
      }
      expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([
        'api-key',
        'bearer',
      ]);
      expect(doc.paths['/v1/alerts'].post.security).toEqual([
        { bearer: [] },
        { 'api-key': [] },
      ]);
      expect(doc.paths['/v1/sns']?.post?.security).toBeUndefined();
      const alertDto = doc.components.schemas.AlertDto;
      expect(alertDto.required).toEqual(
        expect.arrayContaining(['severity', 'alarmName']),
      );
      expect(alertDto.properties.alarmName.example).toBeDefined();
      expect(
        doc.components.schemas.PatchPagerDutyConfigDto.properties.routingKey,
      ).toMatchObject({ minLength: 32 });
    });

    it('serves the docs UI under a CSP that allows it and no inline script', async () => {
      const server = h.app.getHttpServer();
      const page = await request(server).get('/docs').expect(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      const csp = page.headers['content-security-policy'];
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      for (const src of page.text
        .match(/(?:src|href)="([^"]+)"/g)!
        .map((m) => m.split('"')[1])) {
        await request(server).get(src).expect(200);
      }
    });

    it('answers with security headers and never a stack trace', async () => {
      const res = await request(h.app.getHttpServer())
        .get('/v1/incidents')
        .expect(401);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['strict-transport-security']).toBeDefined();
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.any(String),
      });
      const bad = await request(h.app.getHttpServer())
        .post('/v1/alerts')
        .set('x-api-key', TEST_API_KEY)
        .set('content-type', 'application/json')
        .send('{"severity": ')
        .expect(400);
      expect(JSON.stringify(bad.body)).not.toMatch(/\bat .+\.(js|ts):\d+/);
    });
  });

  describe('rate limiting', () => {
    let t: TestApp;
    const other = 'second-api-key-abcdefgh';
    beforeAll(async () => {
      t = await createTestApp({
        env: {
          RATE_LIMIT_PER_MINUTE: '3',
          API_KEYS: `${TEST_API_KEY},${other}`,
        },
      });
    });
    afterAll(() => t?.close());

    it('answers 429 with Retry-After past the limit, per client, and leaves probes alone', async () => {
      for (let i = 0; i < 3; i++) await t.api.get('/v1/incidents').expect(200);
      const limited = await t.api.get('/v1/incidents').expect(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.body).toMatchObject({
        statusCode: 429,
        error: 'Too Many Requests',
      });
      // Another client (key) has its own budget.
      await t.http().get('/v1/incidents').set('x-api-key', other).expect(200);
      for (let i = 0; i < 5; i++)
        await t.http().get('/health/live').expect(200);
    });
  });

  describe('health', () => {
    let t: TestApp;
    const pd = new FakePagerDuty();
    beforeAll(async () => {
      await pd.start();
      t = await createTestApp({
        env: {
          NOTIFIERS: 'pagerduty',
          PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
          PAGERDUTY_EVENTS_URL: pd.url,
        },
      });
    });
    afterAll(async () => {
      await t?.close();
      await pd.stop();
    });

    it('is live and ready, reporting the outbox; readiness turns 503 when the database goes away', async () => {
      await t
        .http()
        .get('/health/live')
        .expect(200, { status: 'ok', info: {}, error: {}, details: {} });
      await pd.goDown();
      await t.api.post('/v1/alerts').send(alert()).expect(202);
      await t.api.post('/v1/alerts').send(alert()).expect(202);
      const ready = await t.http().get('/health/ready').expect(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.body.details.database.status).toBe('up');
      expect(ready.body.details.outbox).toMatchObject({
        status: 'up',
        pending: 2,
        dead: 0,
      });
      expect(
        ready.body.details.outbox.oldestPendingAgeSeconds,
      ).toBeGreaterThanOrEqual(0);
      await pd.comeBack();
      await pd.waitFor((r) => r.length === 2, 10_000);
      // Nothing in flight when the database goes: a delivery finishing then has nowhere to write.
      await new Promise((r) => setTimeout(r, 200));

      await t.dataSource.destroy();
      const down = await t.http().get('/health/ready').expect(503);
      expect(down.body.status).toBe('error');
      expect(down.body.error.database.status).toBe('down');
      expect(down.body.details.outbox.status).toBe('down');
    });
  });

  describe('metrics', () => {
    let t: TestApp;
    const pd = new FakePagerDuty();
    beforeAll(async () => {
      await pd.start();
      t = await createTestApp({
        env: {
          NOTIFIERS: 'pagerduty',
          PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
          PAGERDUTY_EVENTS_URL: pd.url,
        },
      });
    });
    afterAll(async () => {
      await t?.close();
      await pd.stop();
    });

    it('shows the counts of a known workload', async () => {
      const [a, b, c] = [alert(), alert(), alert()];
      await t.api.post('/v1/alerts').send([a, b, c]).expect(202);
      await t.api.post('/v1/alerts').send(a).expect(202); // deduplicated, still ingested
      await t.api
        .post('/v1/alerts')
        .send({ ...b, status: 'resolved' })
        .expect(202);
      await t.api
        .post(`/v1/incidents/${c.alarmName}-ErrorRate/acknowledge`)
        .expect(200);
      await t.api
        .post('/v1/alerts/templates/high-latency')
        .send({ currentValue: 900, threshold: 500 })
        .expect(202);
      // 4 triggers, 1 resolve, 1 acknowledge
      await pd.waitFor((r) => r.length === 6);
      await new Promise((r) => setTimeout(r, 200));

      const res = await t.http().get('/metrics').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      const value = (series: string) => {
        const line = res.text
          .split('\n')
          .find((l) => l.startsWith(`${series} `));
        return line === undefined
          ? undefined
          : Number(line.slice(series.length + 1));
      };
      expect(value('alerting_alerts_ingested_total{source="http"}')).toBe(5);
      expect(value('alerting_alerts_ingested_total{source="template"}')).toBe(
        1,
      );
      expect(
        value(
          'alerting_notifications_total{notifier="pagerduty",action="trigger",outcome="delivered"}',
        ),
      ).toBe(4);
      expect(
        value(
          'alerting_notifications_total{notifier="pagerduty",action="resolve",outcome="delivered"}',
        ),
      ).toBe(1);
      expect(
        value(
          'alerting_notifications_total{notifier="pagerduty",action="acknowledge",outcome="delivered"}',
        ),
      ).toBe(1);
      expect(value('alerting_incidents{status="triggered"}')).toBe(2);
      expect(value('alerting_incidents{status="acknowledged"}')).toBe(1);
      expect(value('alerting_incidents{status="resolved"}')).toBe(1);
      expect(value('alerting_outbox_deliveries{state="pending"}')).toBe(0);
      expect(
        value('alerting_delivery_latency_seconds_count{notifier="pagerduty"}'),
      ).toBe(6);
    });
  });
});
