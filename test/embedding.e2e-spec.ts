import { Controller, Get, Module } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  AlertingModule,
  alertingEntities,
  alertingMigrations,
  loadAlertingConfig,
  type Notifier,
  type NotificationEvent,
} from '../src/index.js';
import { configureApp, createAdapter } from '../src/app.setup.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';

const HOST_KEY = 'host-app-key-0123456789';

class RecordingNotifier implements Notifier {
  readonly name = 'host-pager';
  readonly events: NotificationEvent[] = [];
  async send(event: NotificationEvent) {
    this.events.push(event);
    return { response: { accepted: true } };
  }
}

@Controller('host')
class HostController {
  @Get('hello')
  hello() {
    return { hello: 'from the host' };
  }
}

describe('Embedding AlertingModule in a host app (e2e)', () => {
  let app: NestFastifyApplication;
  let db: TestDatabase;
  const notifier = new RecordingNotifier();

  beforeAll(async () => {
    db = await createTestDatabase();
    const connection =
      db.dialect === 'postgres'
        ? ({ type: 'postgres', url: db.url } as const)
        : ({ type: 'better-sqlite3', database: ':memory:' } as const);

    @Module({
      imports: [
        // The host's own connection, with the module's entities and migrations added.
        TypeOrmModule.forRoot({
          ...connection,
          entities: [...alertingEntities],
          migrations: alertingMigrations,
          migrationsRun: true,
          synchronize: false,
        }),
        AlertingModule.forRoot({
          config: loadAlertingConfig({
            NOTIFIERS: 'log',
            API_KEYS: HOST_KEY,
            DISPATCH_POLL_INTERVAL: '100ms',
          }),
          notifiers: [notifier],
        }),
        RouterModule.register([{ path: 'alerting', module: AlertingModule }]),
      ],
      controllers: [HostController],
    })
    class HostModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [HostModule],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(
      createAdapter(),
      { logger: ['error'] },
    );
    configureApp(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('serves the alerting API under the host prefix, guarded, and delivers to the host notifier', async () => {
    const server = app.getHttpServer();
    await request(server)
      .get('/host/hello')
      .expect(200, { hello: 'from the host' });
    await request(server)
      .post('/alerting/v1/alerts')
      .send({ severity: 'critical', alarmName: 'embedded' })
      .expect(401);
    await request(server)
      .post('/v1/alerts')
      .set('x-api-key', HOST_KEY)
      .send({})
      .expect(404);

    const res = await request(server)
      .post('/alerting/v1/alerts')
      .set('Authorization', `Bearer ${HOST_KEY}`)
      .send({
        severity: 'critical',
        alarmName: 'embedded',
        metricName: 'Queue',
      })
      .expect(202);
    expect(res.body.results[0]).toMatchObject({
      dedupKey: 'embedded-Queue',
      action: 'triggered',
    });

    const deadline = Date.now() + 5000;
    while (notifier.events.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    expect(notifier.events).toHaveLength(1);
    expect(notifier.events[0]).toMatchObject({
      action: 'trigger',
      incident: {
        dedupKey: 'embedded-Queue',
        severity: 'CRITICAL',
        alarmName: 'embedded',
      },
    });
    const rows = await app
      .get(DataSource)
      .query(`SELECT notifier, state FROM deliveries ORDER BY notifier`);
    expect(rows.map((r: { notifier: string }) => r.notifier)).toEqual([
      'host-pager',
      'log',
    ]);

    const incident = await request(server)
      .get('/alerting/v1/incidents/embedded-Queue')
      .set('x-api-key', HOST_KEY)
      .expect(200);
    expect(incident.body.status).toBe('triggered');
  });
});
