import { Module, type INestApplication } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import {
  ALERTING_DATA_SOURCE,
  AlertingModule,
  PagerDutyModule,
  SnsIngestModule,
  useAlertingBodyParsers,
} from '../src/index.js';
import { FakePagerDuty, SnsTestSigner } from '../src/testing/index.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { ROUTING_KEY, TEST_API_KEY } from './support/test-app.js';

// The same cases on each platform a host may run the module on: Express is what
// `nest new` generates, Fastify is the standalone service's. Only the adapter differs.
const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:platform-parity';
const PLATFORMS = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
  // a host that lowered Fastify's limit for its own routes
  [
    'fastify with a 64 KiB bodyLimit',
    () => new FastifyAdapter({ bodyLimit: 64 * 1024 }),
  ],
] as const;

describe.each(PLATFORMS)(
  'Alerting routes on %s (e2e)',
  (_platform, adapter) => {
    const pd = new FakePagerDuty();
    let signer: SnsTestSigner;
    let db: TestDatabase;
    let app: INestApplication;
    let dataSource: DataSource;

    beforeAll(async () => {
      await pd.start();
      signer = await SnsTestSigner.start();
      db = await createTestDatabase();
      @Module({
        imports: [
          AlertingModule.forRoot({
            config: {
              appEnv: 'production',
              notifiers: ['pagerduty'],
              delivery: { pollInterval: '100ms' },
            },
            database: { url: db.url },
            auth: { apiKeys: [TEST_API_KEY] },
          }),
          PagerDutyModule.forRoot({
            routingKey: ROUTING_KEY,
            eventsUrl: pd.url,
            rateLimitPerMinute: 0,
          }),
          SnsIngestModule.forRoot({
            topicAllowlist: [TOPIC],
            certUrlPattern: signer.certUrlPattern.source,
          }),
          RouterModule.register([
            {
              path: 'alerting',
              module: AlertingModule,
              children: [PagerDutyModule, SnsIngestModule],
            },
          ]),
        ],
      })
      class HostModule {}

      const moduleRef = await Test.createTestingModule({
        imports: [HostModule],
      }).compile();
      app = moduleRef.createNestApplication(adapter(), { logger: ['error'] });
      useAlertingBodyParsers(app);
      await app.init();
      if (_platform.startsWith('fastify'))
        await app.getHttpAdapter().getInstance().ready();
      dataSource = app.get<DataSource>(
        getDataSourceToken(ALERTING_DATA_SOURCE),
      );
    });
    afterAll(async () => {
      await app?.close();
      await pd.stop();
      await signer?.stop();
      await db?.drop();
    });

    const post = (path: string) =>
      request(app.getHttpServer())
        .post(`/alerting${path}`)
        .set('x-api-key', TEST_API_KEY);
    const incidents = async (prefix: string) =>
      (
        await dataSource.query(
          `SELECT dedup_key FROM incidents WHERE dedup_key LIKE '${prefix}%' ORDER BY dedup_key`,
        )
      ).map((r: { dedup_key: string }) => r.dedup_key);

    it('accepts a 200 KB batch of alerts (Express alone stops at 100 KB)', async () => {
      const batch = Array.from({ length: 30 }, (_, i) => ({
        severity: 'warning',
        alarmName: `big-${String(i).padStart(2, '0')}`,
        description: 'x'.repeat(7000),
      }));
      const body = JSON.stringify(batch);
      expect(body.length).toBeGreaterThan(200_000);
      const res = await post('/v1/alerts')
        .set('content-type', 'application/json')
        .send(body)
        .expect(202);
      expect(res.body.results).toHaveLength(30);
      expect(await incidents('big-')).toHaveLength(30);
      await pd.waitFor(
        (r) => r.filter((e) => e.dedupKey.startsWith('big-')).length === 30,
      );
    });

    it('answers 413 in JSON over 1 MiB, nothing stored', async () => {
      const res = await post('/v1/alerts')
        .set('content-type', 'application/json')
        .send(
          JSON.stringify({
            severity: 'warning',
            alarmName: 'too-big',
            description: 'x'.repeat(1024 * 1024),
          }),
        )
        .expect(413);
      expect(res.body).toEqual({
        statusCode: 413,
        message: 'Request body is too large',
      });
      expect(await incidents('too-big')).toEqual([]);
    });

    it('answers 400 in JSON for a body that is not JSON', async () => {
      const res = await post('/v1/alerts')
        .set('content-type', 'application/json')
        .send('{"severity": "warning", ')
        .expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        message:
          "Body is not valid JSON but content-type is set to 'application/json'",
      });
    });

    it('parses SNS text/plain JSON on /v1/sns: the signed alarm becomes an incident and a PagerDuty trigger', async () => {
      const name = `sns-${_platform.replace(/\W+/g, '-')}`;
      const body = signer.notification({
        topicArn: TOPIC,
        message: {
          AlarmName: name,
          AlarmDescription: '[CRITICAL] parity',
          NewStateValue: 'ALARM',
          OldStateValue: 'OK',
          NewStateReason: 'Threshold Crossed',
          StateChangeTime: '2025-05-01T10:00:00.000+0000',
          Region: 'EU (Frankfurt)',
          AWSAccountId: '123456789012',
          AlarmArn: `arn:aws:cloudwatch:eu-central-1:123456789012:alarm:${name}`,
          Trigger: { MetricName: 'CPUUtilization', Namespace: 'AWS/EC2' },
        },
      });
      const headers = signer.headersFor(body);
      expect(headers['content-type']).toMatch(/^text\/plain/);
      const res = await request(app.getHttpServer())
        .post('/alerting/v1/sns')
        .set(headers)
        .send(JSON.stringify(body))
        .expect(202);
      expect(res.body).toMatchObject({ outcome: 'ingested' });
      const stored = await incidents(name);
      expect(stored).toHaveLength(1);
      const [event] = await pd
        .waitFor((r) => r.some((e) => e.dedupKey === stored[0]))
        .then((r) => r.filter((e) => e.dedupKey === stored[0]));
      expect(event.body).toMatchObject({ event_action: 'trigger' });
    });

    it('keeps the domain answers: 404 unknown incident, 409 already resolved, 401 without a key', async () => {
      const server = app.getHttpServer();
      await request(server)
        .post('/alerting/v1/alerts')
        .send({ severity: 'warning', alarmName: 'no-key' })
        .expect(401);
      const missing = await post('/v1/incidents/nope/resolve').expect(404);
      expect(missing.body).toMatchObject({ statusCode: 404 });
      await post('/v1/alerts')
        .send({ severity: 'warning', alarmName: 'conflict' })
        .expect(202);
      await post('/v1/incidents/conflict/resolve').expect(200);
      const again = await post('/v1/incidents/conflict/resolve').expect(409);
      expect(again.body).toMatchObject({ statusCode: 409 });
    });
  },
);
