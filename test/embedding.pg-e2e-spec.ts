import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  AlertingModule,
  NotifierAdapter,
  alertingMigrations,
  dataSourceOptions,
  runAlertingMigrations,
  type NotificationEvent,
  type Notifier,
} from '../src/index.js';
import { createAdapter } from '../src/app.setup.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';

@NotifierAdapter()
@Injectable()
class HostTableNotifier implements Notifier {
  readonly name = 'host-table';
  async send(_event: NotificationEvent) {}
}

async function startHost(url: string): Promise<NestFastifyApplication> {
  @Module({
    imports: [
      AlertingModule.forRoot({
        config: { notifiers: ['host-table'] },
        database: { url, tablePrefix: 'alerting_' },
      }),
    ],
    providers: [HostTableNotifier],
  })
  class HostModule {}
  const moduleRef = await Test.createTestingModule({
    imports: [HostModule],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(
    createAdapter(),
    { logger: ['error'] },
  );
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe('Two hosts started together on one PostgreSQL database (e2e)', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db?.drop();
  });

  it('migrate once, under the lock, and both serve', async () => {
    const apps = await Promise.all([startHost(db.url), startHost(db.url)]);
    try {
      for (const [i, app] of apps.entries())
        await request(app.getHttpServer())
          .post('/v1/alerts')
          .send({ severity: 'info', alarmName: `host-${i}` })
          .expect(202);
      const ds = new DataSource({ type: 'postgres', url: db.url });
      await ds.initialize();
      try {
        const rows = await ds.query(
          'SELECT name FROM alerting_migrations ORDER BY id',
        );
        expect(rows.map((r: { name: string }) => r.name)).toEqual(
          alertingMigrations.map((m) => new m().name),
        );
        expect(
          await ds.query('SELECT dedup_key FROM alerting_incidents ORDER BY 1'),
        ).toEqual([{ dedup_key: 'host-0' }, { dedup_key: 'host-1' }]);
      } finally {
        await ds.destroy();
      }
    } finally {
      await Promise.all(apps.map((a) => a.close()));
    }
  });

  it('runAlertingMigrations serializes a host migrating in jobs of its own', async () => {
    const sources = await Promise.all(
      [0, 1, 2].map(() =>
        new DataSource(
          dataSourceOptions(db.url, { tablePrefix: 'job_' }),
        ).initialize(),
      ),
    );
    try {
      await Promise.all(sources.map((ds) => runAlertingMigrations(ds)));
      const rows = await sources[0].query('SELECT name FROM job_migrations');
      expect(rows).toHaveLength(alertingMigrations.length);
    } finally {
      await Promise.all(sources.map((ds) => ds.destroy()));
    }
  });
});
