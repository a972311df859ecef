import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Controller,
  Get,
  Injectable,
  Module,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  type ModuleMetadata,
} from '@nestjs/common';
import { APP_GUARD, Reflector, RouterModule } from '@nestjs/core';
import { ScheduleModule, Interval } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder } from '@nestjs/swagger';
import { Registry, collectDefaultMetrics } from 'prom-client';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';
import {
  ALERTING_DATA_SOURCE,
  ALERTING_PUBLIC_KEY,
  AlertingHealthIndicator,
  AlertingModule,
  AlertmanagerModule,
  CloudWatchModule,
  ConfigValidationError,
  NotifierAdapter,
  PagerDutyModule,
  SnsIngestModule,
  addAlertingOpenApi,
  alertingMetricsRegistry,
  alertingMigrations,
  resolveAlertingConfig,
  type AlertingModuleOptions,
  type NotificationEvent,
  type Notifier,
} from '../src/index.js';
import { createAdapter } from '../src/app.setup.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';

const KEY = 'alerting-key-0123456789';
const HOST_TOKEN = 'host-session-token';

/** A host's own adapter: its table stands for the host's storage. */
@NotifierAdapter()
@Injectable()
class HostTableNotifier implements Notifier {
  readonly name = 'host-table';
  readonly events: NotificationEvent[] = [];
  async send(event: NotificationEvent) {
    this.events.push(event);
    return { response: { stored: true } };
  }
}

/** A host's global guard: its own Bearer sessions, skipping what the module marks public. */
@Injectable()
class HostGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(context: ExecutionContext): boolean {
    if (
      this.reflector.getAllAndOverride<boolean>(ALERTING_PUBLIC_KEY, [
        context.getHandler(),
        context.getClass(),
      ])
    )
      return true;
    const req = context.switchToHttp().getRequest<{ headers: any }>();
    return req.headers.authorization === `Bearer ${HOST_TOKEN}`;
  }
}

@Controller('host')
class HostHealthController {
  constructor(private readonly alerting: AlertingHealthIndicator) {}
  @Get('health')
  health() {
    return this.alerting.isHealthy('alerting');
  }
}

interface Host {
  app: NestFastifyApplication;
  http: () => ReturnType<typeof request>;
  notifier: HostTableNotifier;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * A host app as a host team writes it: its own module, the alerting modules it picked, no
 * configureApp (the standalone service's global filter and docs are not there).
 */
async function startHost(
  alerting: AlertingModuleOptions | DynamicModule,
  extra: Pick<ModuleMetadata, 'imports' | 'providers' | 'controllers'> = {},
): Promise<Host> {
  @Module({
    imports: [
      'module' in alerting ? alerting : AlertingModule.forRoot(alerting),
      ...(extra.imports ?? []),
    ],
    providers: [HostTableNotifier, ...(extra.providers ?? [])],
    controllers: extra.controllers ?? [],
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
  return {
    app,
    http: () => request(app.getHttpServer()),
    notifier: app.get(HostTableNotifier),
    dataSource: app.get<DataSource>(getDataSourceToken(ALERTING_DATA_SOURCE)),
    close: () => app.close(),
  };
}

async function until<T>(read: () => T, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5000;
  let value = read();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    value = read();
  }
  return value;
}

const FAST = { delivery: { retryBase: '50ms', pollInterval: '100ms' } };

describe('Embedding the alerting modules in a host app (e2e)', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db?.drop();
  });

  it('keeps 404, 409 and 400 of its own routes without the standalone filter, under a host prefix', async () => {
    const host = await startHost(
      {
        config: { ...FAST, notifiers: ['host-table'] },
        database: { url: db.url },
        auth: { apiKeys: [KEY] },
      },
      {
        imports: [
          CloudWatchModule.forRoot(),
          RouterModule.register([
            {
              path: 'alerting',
              module: AlertingModule,
              children: [CloudWatchModule],
            },
          ]),
        ],
      },
    );
    try {
      const api = (method: 'get' | 'post', path: string) =>
        host.http()[method](`/alerting${path}`).set('x-api-key', KEY);
      const unknown = await api('get', '/v1/incidents/nope').expect(404);
      expect(unknown.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'no incident with dedupKey nope',
      });
      await api('post', '/v1/alerts')
        .send({ severity: 'critical', alarmName: 'embedded' })
        .expect(202);
      await api('post', '/v1/incidents/embedded/resolve').expect(200);
      const again = await api('post', '/v1/incidents/embedded/resolve').expect(
        409,
      );
      expect(again.body.message).toBe('incident embedded is already resolved');
      await api('post', '/v1/alerts/templates/no-such').send({}).expect(404);
      await api('post', '/v1/cloudwatch/events').send({}).expect(400);
      await host.http().post('/v1/alerts').set('x-api-key', KEY).expect(404);
      const invalid = await api('post', '/v1/alerts/templates/high-latency')
        .send({ colour: 'red' })
        .expect(400);
      expect(JSON.stringify(invalid.body.message)).toContain('colour');

      await until(
        () => host.notifier.events.length,
        (n) => n === 2,
      );
      const deliveries = await api('get', '/v1/deliveries').expect(200);
      const live = deliveries.body.items[0];
      expect(live.state).not.toBe('dead');
      const retry = await api('post', `/v1/deliveries/${live.id}/retry`).expect(
        409,
      );
      expect(retry.body.error).toBe('Conflict');
      await api('post', '/v1/deliveries/999999/retry').expect(404);
    } finally {
      await host.close();
    }
  });

  it("reads X-API-Key before the host's Bearer session, lets a host guard skip /v1/sns, and can leave auth to the host", async () => {
    const guarded = await startHost(
      {
        config: { notifiers: ['host-table'] },
        database: { url: db.url },
        auth: { apiKeys: [KEY] },
      },
      {
        imports: [SnsIngestModule.forRoot()],
        providers: [{ provide: APP_GUARD, useClass: HostGuard }],
      },
    );
    try {
      const bearer = `Bearer ${HOST_TOKEN}`;
      await guarded
        .http()
        .get('/v1/incidents')
        .set('authorization', bearer)
        .set('x-api-key', KEY)
        .expect(200);
      await guarded
        .http()
        .get('/v1/incidents')
        .set('authorization', bearer)
        .expect(401);
      // the host guard lets the signature-authenticated route through; the signature refuses it
      const sns = await guarded
        .http()
        .post('/v1/sns')
        .set('content-type', 'application/json')
        .send({ Type: 'Notification' });
      expect(sns.status).toBe(403);
    } finally {
      await guarded.close();
    }

    const open = await startHost(
      {
        config: { appEnv: 'production', notifiers: ['host-table'] },
        database: { url: db.url },
        auth: false,
      },
      { providers: [{ provide: APP_GUARD, useClass: HostGuard }] },
    );
    try {
      await open
        .http()
        .get('/v1/incidents')
        .set('authorization', `Bearer ${HOST_TOKEN}`)
        .expect(200);
      await open.http().get('/v1/incidents').set('x-api-key', KEY).expect(403);
    } finally {
      await open.close();
    }
  });

  it("leaves the host's ScheduleModule alone: its @Interval(1000) ticks once a second", async () => {
    const ticks: number[] = [];
    @Injectable()
    class HostJob {
      @Interval(1000)
      tick() {
        ticks.push(Date.now());
      }
    }
    const host = await startHost(
      { config: { notifiers: ['host-table'] }, database: { url: db.url } },
      { imports: [ScheduleModule.forRoot()], providers: [HostJob] },
    );
    try {
      await new Promise((r) => setTimeout(r, 2_300));
      expect(ticks).toHaveLength(2);
    } finally {
      await host.close();
    }
  });

  it('takes its config from the options object: the host environment is not read, bad options are named', async () => {
    const saved = {
      APP_ENV: process.env.APP_ENV,
      LOG_LEVEL: process.env.LOG_LEVEL,
    };
    process.env.APP_ENV = 'test';
    process.env.LOG_LEVEL = 'verbose';
    let host: Host | undefined;
    try {
      // the host's own config service feeds the options
      @Injectable()
      class HostConfig {
        readonly alerting: AlertingModuleOptions = {
          config: {
            appEnv: 'production',
            notifiers: ['host-table'],
            resolveTimeout: '4h',
          },
          database: { url: db.url },
          auth: { apiKeys: [KEY] },
        };
      }
      @Module({ providers: [HostConfig], exports: [HostConfig] })
      class HostConfigModule {}
      host = await startHost(
        AlertingModule.forRootAsync({
          imports: [HostConfigModule],
          inject: [HostConfig],
          useFactory: (c: HostConfig) => c.alerting,
        }),
      );
      const res = await host
        .http()
        .post('/v1/alerts')
        .set('x-api-key', KEY)
        .send({ severity: 'info', alarmName: 'from-options' })
        .expect(202);
      expect(res.body.results[0].action).toBe('triggered');
      const [row] = await host.dataSource.query(
        `SELECT environment FROM incidents WHERE dedup_key = 'from-options'`,
      );
      expect(row.environment).toBe('production');
    } finally {
      await host?.close();
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    const error = (() => {
      try {
        resolveAlertingConfig({
          appEnv: 'test' as never,
          resolveTimeout: 'soon',
          delivery: { lease: 'forever' },
          pagerduty: { routingKey: 'short' },
        });
      } catch (e) {
        return e as ConfigValidationError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect(error!.problems.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining([
        'appEnv',
        'resolveTimeout',
        'delivery.lease',
        'pagerduty.routingKey',
      ]),
    );
    expect(() =>
      resolveAlertingConfig({ appEnv: 'production' }, { auth: undefined }),
    ).toThrow(/auth: apiKeys required/);
  });

  it("runs on the host's own notifier alone: trigger then resolve, nothing for the built-ins", async () => {
    const host = await startHost({
      config: FAST,
      database: { url: db.url },
    });
    try {
      await host
        .http()
        .post('/v1/alerts')
        .send({ severity: 'warning', alarmName: 'only-host', metricName: 'Q' })
        .expect(202);
      await host
        .http()
        .post('/v1/alerts')
        .send({
          severity: 'warning',
          alarmName: 'only-host',
          metricName: 'Q',
          status: 'resolved',
        })
        .expect(202);
      const events = await until(
        () => host.notifier.events,
        (e) => e.length === 2,
      );
      expect(events.map((e) => [e.action, e.incident.dedupKey])).toEqual([
        ['trigger', 'only-host-Q'],
        ['resolve', 'only-host-Q'],
      ]);
      // the outcome is recorded just after send() returns
      let rows: { notifier: string; state: string }[] = [];
      const deadline = Date.now() + 5000;
      do {
        rows = await host.dataSource.query(
          `SELECT notifier, state FROM deliveries ORDER BY id`,
        );
      } while (
        rows.some((r) => r.state !== 'delivered') &&
        Date.now() < deadline &&
        (await new Promise((r) => setTimeout(r, 25)), true)
      );
      expect(rows).toEqual([
        { notifier: 'host-table', state: 'delivered' },
        { notifier: 'host-table', state: 'delivered' },
      ]);
    } finally {
      await host.close();
    }
    await expect(
      startHost({
        config: { notifiers: ['host-table', 'pagerduty'] },
        database: { url: db.url },
      }),
    ).rejects.toThrow(/pagerduty.*no such adapter/);
  });

  it('puts its tables under a prefix beside a host that has its own settings table', async () => {
    @Entity('settings')
    class HostSetting {
      @PrimaryColumn({ type: 'varchar', length: 64 }) name: string;
      @Column({ type: 'varchar', length: 64 }) owner: string;
    }
    const dir = mkdtempSync(join(tmpdir(), 'alerting-host-'));
    const url =
      db.dialect === 'postgres' ? db.url : `sqlite:${join(dir, 'host.sqlite')}`;
    const hostConnection =
      db.dialect === 'postgres'
        ? ({ type: 'postgres', url } as const)
        : ({
            type: 'better-sqlite3',
            database: url.slice('sqlite:'.length),
          } as const);
    // The host's database as it stood before the alerting modules arrived.
    const before = await new DataSource({
      ...hostConnection,
      entities: [HostSetting],
      synchronize: true,
    }).initialize();
    await before.query(
      `INSERT INTO settings (name, owner) VALUES ('theme', 'host')`,
    );
    await before.destroy();

    const start = () =>
      startHost(
        {
          config: {
            ...FAST,
            notifiers: ['host-table'],
            pagerduty: { serviceName: 'Host on-call' },
          },
          database: { url, tablePrefix: 'alerting_' },
        },
        {
          imports: [
            TypeOrmModule.forRoot({
              ...hostConnection,
              entities: [HostSetting],
            }),
            PagerDutyModule.forRoot({}),
            CloudWatchModule.forRoot(),
          ],
        },
      );
    let host = await start();
    try {
      await host
        .http()
        .post('/v1/alerts')
        .send({ severity: 'critical', alarmName: 'prefixed' })
        .expect(202);
      const patched = await host
        .http()
        .patch('/v1/config/pagerduty')
        .send({ routingKey: 'abcdefabcdefabcdefabcdefabcdef12' })
        .expect(200);
      expect(patched.body).toMatchObject({
        enabled: false,
        routingKey: '****ef12',
        serviceName: 'Host on-call',
      });
      await until(
        () => host.notifier.events.length,
        (n) => n === 1,
      );
      await host.http().post('/v1/incidents/prefixed/acknowledge').expect(200);
      await host.close();

      // a second start on the same database finds its migrations done
      host = await start();
      const q = (sql: string) => host.dataSource.query(sql);
      expect(await q(`SELECT name, owner FROM settings`)).toEqual([
        { name: 'theme', owner: 'host' },
      ]);
      expect(await q(`SELECT key FROM alerting_settings`)).toEqual([
        { key: 'pagerduty.routing_key' },
      ]);
      expect(
        await q(`SELECT dedup_key, status FROM alerting_incidents`),
      ).toEqual([{ dedup_key: 'prefixed', status: 'acknowledged' }]);
      expect((await q(`SELECT notifier FROM alerting_deliveries`)).length).toBe(
        2,
      );
      expect(
        Number((await q(`SELECT COUNT(*) AS n FROM alerting_migrations`))[0].n),
      ).toBe(alertingMigrations.length);
      const tables = (
        db.dialect === 'postgres'
          ? await q(
              `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`,
            )
          : await q(`SELECT name FROM sqlite_master WHERE type = 'table'`)
      ).map((r: { name: string }) => r.name);
      expect(tables).not.toContain('incidents');
      expect(tables).not.toContain('silences');
      expect(tables).toEqual(
        expect.arrayContaining([
          'settings',
          'alerting_incidents',
          'alerting_silences',
          'alerting_key_transitions',
          'alerting_sns_messages',
        ]),
      );
      await host
        .http()
        .post('/v1/alerts')
        .send({
          severity: 'critical',
          alarmName: 'prefixed',
          status: 'resolved',
        })
        .expect(202);
      expect(await q(`SELECT status FROM alerting_incidents`)).toEqual([
        { status: 'resolved' },
      ]);
      // the transition-ordering table, behind an edge that knows when the state changed
      const event = JSON.parse(
        readFileSync(
          new URL(
            './fixtures/aws/eventbridge/state-change-single-metric-alarm.json',
            import.meta.url,
          ),
          'utf8',
        ),
      );
      await host.http().post('/v1/cloudwatch/events').send(event).expect(202);
      expect(
        Number(
          (await q(`SELECT COUNT(*) AS n FROM alerting_key_transitions`))[0].n,
        ),
      ).toBe(1);
    } finally {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mounts an edge only when its module is imported, and offers health, metrics and OpenAPI schemes to the host', async () => {
    const core = await startHost(
      { config: { notifiers: ['host-table'] }, database: { url: db.url } },
      { controllers: [HostHealthController] },
    );
    try {
      for (const path of [
        '/v1/sns',
        '/v1/alertmanager',
        '/v1/cloudwatch/events',
        '/v1/cloudwatch/alarms/apply',
      ])
        await core.http().post(path).send({}).expect(404);
      await core.http().get('/v1/config/pagerduty').expect(404);
      await core
        .http()
        .post('/v1/alerts')
        .send({ severity: 'info', alarmName: 'metered' })
        .expect(202);
      const health = await core.http().get('/host/health').expect(200);
      expect(health.body).toEqual({
        alerting: {
          status: 'up',
          pending: expect.any(Number),
          oldestPendingAgeSeconds: expect.any(Number),
          dead: 0,
        },
      });
      // merged into a host's registry that has its own process metrics
      const host = new Registry();
      collectDefaultMetrics({ register: host });
      const merged = Registry.merge([host, alertingMetricsRegistry]);
      const metrics = await merged.metrics();
      expect(metrics).toMatch(
        /alerting_alerts_ingested_total\{source="http"\} 1/,
      );
      expect(metrics).toMatch(/alerting_incidents\{status="triggered"\} 1/);
      expect(metrics).toContain('process_cpu_user_seconds_total');
    } finally {
      await core.close();
    }
    const doc = addAlertingOpenApi(new DocumentBuilder()).build();
    expect(Object.keys(doc.components?.securitySchemes ?? {})).toEqual([
      'bearer',
      'api-key',
    ]);

    const edges = await startHost(
      { config: { notifiers: ['host-table'] }, database: { url: db.url } },
      {
        imports: [
          CloudWatchModule.forRoot(),
          AlertmanagerModule,
          SnsIngestModule.forRoot(),
        ],
      },
    );
    try {
      await edges.http().post('/v1/cloudwatch/events').send({}).expect(400);
      await edges.http().post('/v1/cloudwatch/alarms/apply').expect(404);
      await edges.http().post('/v1/alertmanager').send({}).expect(400);
      await edges.http().post('/v1/sns').send({}).expect(403);
    } finally {
      await edges.close();
    }
    const apply = await startHost(
      { config: { notifiers: ['host-table'] }, database: { url: db.url } },
      { imports: [CloudWatchModule.forRoot({ alarmApply: true })] },
    );
    try {
      // mounted, and refusing without a topic for the alarms' actions
      await apply.http().post('/v1/cloudwatch/alarms/apply').expect(409);
    } finally {
      await apply.close();
    }
  });
});
