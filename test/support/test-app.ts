import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ALERTING_DATA_SOURCE } from '../../src/database/data-source.options.js';
import request from 'supertest';
import { AppModule } from '../../src/app.module.js';
import { configureApp, createAdapter } from '../../src/app.setup.js';
import { CLOCK, type Clock } from '../../src/ops/clock.js';
import { loadAlertingConfig } from '../../src/config/alerting.config.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';
import { Delivery } from '../../src/notifier/delivery.entity.js';
import { Incident } from '../../src/alerting/incident.entity.js';

export const TEST_API_KEY = 'test-api-key-0123456789';
export const ROUTING_KEY = '0123456789abcdef0123456789abcdef';

/** Production settings delivering to a fake PagerDuty, without the per-key rate limit. */
export function pagerDutyEnv(pd: { url: string }): Record<string, string> {
  return {
    APP_ENV: 'production',
    NOTIFIERS: 'pagerduty',
    PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
    PAGERDUTY_EVENTS_URL: pd.url,
    PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
  };
}

export interface TestApp {
  app: NestFastifyApplication;
  dataSource: DataSource;
  db: TestDatabase;
  http: () => ReturnType<typeof request>;
  /** supertest with the API key already set */
  api: {
    get: (path: string) => request.Test;
    post: (path: string) => request.Test;
    patch: (path: string) => request.Test;
  };
  /** the outbox rows of a dedup key, oldest first */
  deliveriesOf(dedupKey: string): Promise<Delivery[]>;
  /** every incident of a dedup key */
  incidentsOf(dedupKey: string): Promise<Incident[]>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: Clock;
  /** an existing database (restart tests) instead of a fresh one */
  db?: TestDatabase;
  overrides?: Provider[];
}

/** The real AppModule and edge (configureApp) on a fresh database; only the world's edges are fakes. */
export async function createTestApp(
  options: TestAppOptions = {},
): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const env = {
    DATABASE_URL: db.url,
    API_KEYS: TEST_API_KEY,
    LOG_LEVEL: 'warn',
    DELIVERY_RETRY_BASE: '50ms',
    DISPATCH_POLL_INTERVAL: '100ms',
    ...options.env,
  };
  let builder = Test.createTestingModule({ imports: [AppModule.forRoot(env)] });
  if (options.clock)
    builder = builder.overrideProvider(CLOCK).useValue(options.clock);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(
    createAdapter(loadAlertingConfig(env)),
    { logger: ['error'] },
  );
  configureApp(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const server = app.getHttpServer();
  const auth = (t: request.Test) =>
    t.set('Authorization', `Bearer ${TEST_API_KEY}`);
  const dataSource = app.get<DataSource>(
    getDataSourceToken(ALERTING_DATA_SOURCE),
  );
  return {
    app,
    db,
    dataSource,
    http: () => request(server),
    api: {
      get: (path) => auth(request(server).get(path)),
      post: (path) => auth(request(server).post(path)),
      patch: (path) => auth(request(server).patch(path)),
    },
    deliveriesOf: (dedupKey) =>
      dataSource
        .getRepository(Delivery)
        .find({ where: { dedupKey }, order: { id: 'ASC' } }),
    incidentsOf: (dedupKey) =>
      dataSource.getRepository(Incident).findBy({ dedupKey }),
    async close() {
      await app.close();
      if (!options.db) await db.drop();
    },
  };
}
