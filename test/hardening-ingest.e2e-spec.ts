import { readFileSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { gzipSync } from 'node:zlib';
import { CloudWatchFake } from './fakes/cloudwatch.fake.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { SnsTestSigner } from './fakes/sns-signer.js';
import {
  createTestApp,
  pagerDutyEnv,
  type TestApp,
} from './support/test-app.js';
import type { Clock } from '../src/ops/clock.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { IncidentService } from '../src/alerting/incident.service.js';
import { Delivery } from '../src/notifier/delivery.entity.js';
import { ReconcilerService } from '../src/reconciler/reconciler.service.js';
import { DatabaseService } from '../src/database/database.service.js';
import { SnsMessageRecord } from '../src/sns/sns-message.entity.js';

type Json = Record<string, any>;

const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:hardening-alarms';
const DAY = 86_400_000;
const LONE_HIGH = '\ud800';
const LONE_LOW = '\udc00';
const NUL = '\u0000';

let n = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++n}`;

function fixture(path: string): Json {
  return JSON.parse(
    readFileSync(new URL(`./fixtures/${path}`, import.meta.url), 'utf8'),
  ) as Json;
}

function nested(depth: number): Json {
  let value: Json = { leaf: true };
  for (let i = 1; i < depth; i++) value = { d: value };
  return value;
}

function alertmanagerGroup(alerts: Json[]): Json {
  const base = fixture('alertmanager/webhook-firing.json');
  return {
    ...base,
    alerts: alerts.map((over) => ({
      ...base.alerts[0],
      fingerprint: unique('fp').replace(/[^0-9a-z]/g, ''),
      ...over,
      labels: { ...base.alerts[0].labels, ...over.labels },
    })),
  };
}

function eventBridge(alarmName: string, over: Json = {}): Json {
  const event = fixture(
    'aws/eventbridge/state-change-single-metric-alarm.json',
  );
  event.resources = [
    `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`,
  ];
  event.detail.alarmName = alarmName;
  event.detail.state = { ...event.detail.state, ...over };
  return event;
}

function alarmMessage(name: string, over: Json = {}): Json {
  return {
    AlarmName: name,
    AlarmDescription: '[WARNING] CPU of the router is too high',
    AWSAccountId: '123456789012',
    NewStateValue: 'ALARM',
    NewStateReason:
      'Threshold Crossed: 1 out of the last 1 datapoints [91.5 (01/05/25 10:00:00)] was greater than the threshold (80.0).',
    StateChangeTime: '2025-05-01T10:00:00.000+0000',
    Region: 'EU (Frankfurt)',
    AlarmArn: `arn:aws:cloudwatch:eu-central-1:123456789012:alarm:${name}`,
    OldStateValue: 'OK',
    Trigger: {
      MetricName: 'CPUUtilization',
      Namespace: 'AWS/EC2',
      Dimensions: [{ value: 'i-0123', name: 'InstanceId' }],
      Period: 60,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 80.0,
    },
    ...over,
  };
}

describe('Ingestion hardening (e2e)', () => {
  const pd = new FakePagerDuty();
  let signer: SnsTestSigner;
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    signer = await SnsTestSigner.start();
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
        SNS_CERT_URL_PATTERN: signer.certUrlPattern.source,
        SNS_TOPIC_ARNS: TOPIC,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await signer?.stop();
    await pd.stop();
  });
  beforeEach(() => pd.reset());

  const counts = async () => ({
    incidents: await t.dataSource.getRepository(Incident).count(),
    deliveries: await t.dataSource.getRepository(Delivery).count(),
  });
  /** A 400 naming `field`, nothing stored, nothing paged. */
  const rejected = async (
    send: () => Promise<{ status: number; body: Json }>,
    field: string | RegExp,
  ) => {
    const before = await counts();
    const res = await send();
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    const messages: string[] = res.body.message;
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.length).toBeLessThanOrEqual(21);
    expect(
      messages.some((m) =>
        typeof field === 'string' ? m.startsWith(field) : field.test(m),
      ),
      messages.join('\n'),
    ).toBe(true);
    expect(await counts()).toEqual(before);
    return messages;
  };
  const post = (path: string, body: unknown) =>
    t.api.post(path).send(body as object);
  const alert = (over: Json = {}) => ({
    severity: 'warning',
    alarmName: unique('hardening'),
    ...over,
  });
  const deliverSns = (message: unknown) => {
    const body = signer.notification({
      topicArn: TOPIC,
      message,
      subject: 'ALARM',
      signatureVersion: '1',
    }) as unknown as Json;
    return t
      .http()
      .post('/v1/sns')
      .set(signer.headersFor(body as never))
      .send(JSON.stringify(body));
  };

  describe('resolveTimeout stays within 0..30 days of whole milliseconds', () => {
    it.each([
      ['999999999d'],
      ['31d'],
      ['30d1'],
      [1e300],
      [-1],
      [30 * DAY + 1],
      ['1e3'],
    ])('refuses %s, naming resolveTimeout', async (resolveTimeout) => {
      const messages = await rejected(
        () => post('/v1/alerts', alert({ resolveTimeout })),
        'resolveTimeout',
      );
      expect(messages[0]).toMatch(/from 0 to 30d/);
    });

    it.each([
      ['30d', 30 * DAY],
      [30 * DAY, 30 * DAY],
      [1.5, 2],
      ['0.5s', 500],
      [0, 0],
    ])(
      'stores %s as %i ms on every database',
      async (resolveTimeout, stored) => {
        const a = alert({ resolveTimeout });
        await post('/v1/alerts', a).expect(202);
        const incident = await t.dataSource
          .getRepository(Incident)
          .findOneByOrFail({ dedupKey: a.alarmName });
        expect(incident.resolveTimeoutMs).toBe(stored);
        const detail = await t.api
          .get(`/v1/incidents/${a.alarmName}`)
          .expect(200);
        expect(detail.body.resolveTimeoutMs).toBe(stored);
      },
    );

    it('keeps a batch whole: one bad resolveTimeout stores none of it', async () => {
      const messages = await rejected(
        () =>
          post('/v1/alerts', [
            alert({ resolveTimeout: '1h' }),
            alert({ resolveTimeout: '30d' }),
            alert({ resolveTimeout: 1e300 }),
          ]),
        '[2].resolveTimeout',
      );
      expect(messages).toHaveLength(1);
    });
  });

  describe('bodies that would cost the event loop', () => {
    it('refuses 340 000 links by their count, fast, without walking them', async () => {
      const body = `{"severity":"critical","alarmName":"many-links","links":[${'{},'.repeat(339_999)}{}]}`;
      expect(body.length).toBeLessThan(1024 * 1024);
      const started = Date.now();
      const res = await t.api
        .post('/v1/alerts')
        .set('Content-Type', 'application/json')
        .send(body);
      const tookMs = Date.now() - started;
      expect(res.status).toBe(400);
      expect(res.body.message).toEqual([
        'links must contain no more than 20 elements, got 340000',
      ]);
      // it took 6 s and a stack overflow (500) before
      expect(tookMs).toBeLessThan(2_000);
      await t.http().get('/health/live').expect(200);
    });

    it('refuses 100 000 recommendations by their count', async () => {
      const res = await post(
        '/v1/alerts',
        alert({ recommendations: Array.from({ length: 100_000 }, () => 'r') }),
      ).expect(400);
      expect(res.body.message).toEqual([
        'recommendations must contain no more than 20 elements, got 100000',
      ]);
    });

    it('lists the first 20 problems of a batch and says how many more there were', async () => {
      const batch = Array.from({ length: 1000 }, () =>
        alert({ links: Array.from({ length: 20 }, () => ({})) }),
      );
      const res = await post('/v1/alerts', batch).expect(400);
      expect(res.body.message).toHaveLength(21);
      expect(res.body.message[0]).toBe(
        '[0].links.0.href must be an absolute URL',
      );
      expect(res.body.message[20]).toBe('… and 19980 more');
      expect(JSON.stringify(res.body).length).toBeLessThan(4096);
    });

    it('refuses a batch over 1000 before looking at its alerts', async () => {
      const res = await post(
        '/v1/alerts',
        Array.from({ length: 1001 }, () => ({})),
      ).expect(400);
      expect(res.body.message).toEqual([
        'body must hold 1 to 1000 alerts, got 1001',
      ]);
    });

    it.each([
      ['customDetails', 50_000],
      ['customDetails', 21],
      ['extra', 50_000],
      ['links', 30],
    ])(
      'answers %s nested %i deep with a 400 naming it, not a stack overflow',
      async (field, depth) => {
        // written by hand: serializing it would overflow the client's stack first
        const value = `${'{"d":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
        const body = `{"severity":"info","alarmName":"${unique('deep')}","${field}":${field === 'links' ? `[${value}]` : value}}`;
        const messages = await rejected(
          () =>
            t.api
              .post('/v1/alerts')
              .set('Content-Type', 'application/json')
              .send(body),
          field,
        );
        expect(messages[0]).toMatch(/nested deeper than 20 levels/);
      },
    );

    it('accepts customDetails nested 20 levels deep', async () => {
      const a = alert({ customDetails: nested(20) });
      await post('/v1/alerts', a).expect(202);
      await t.api.get(`/v1/incidents/${a.alarmName}`).expect(200);
    });
  });

  describe('strings must be well-formed Unicode without U+0000, on every edge', () => {
    it.each([
      ['alarmName', { alarmName: `lone-${LONE_HIGH}-${unique('s')}` }],
      ['alarmName', { alarmName: `lone-${LONE_LOW}-${unique('s')}` }],
      ['description', { description: `nul ${NUL} here` }],
      ['environment', { environment: `prod${NUL}` }],
      ['recommendations[1]', { recommendations: ['ok', `bad${LONE_LOW}`] }],
      ['links[0].text', { links: [{ href: 'https://x.example', text: NUL }] }],
      ['customDetails.a.b', { customDetails: { a: { b: `x${NUL}` } } }],
      ['customDetails', { customDetails: { [`k${LONE_HIGH}`]: 1 } }],
      ['dedupKey', { dedupKey: `k${NUL}` }],
    ])('POST /v1/alerts: %s', async (field, over) => {
      const a = alert(over);
      const messages = await rejected(() => post('/v1/alerts', a), field);
      expect(messages.join()).toMatch(/well-formed Unicode without U\+0000/);
      // the same alert again is the same 400, never a 500 on a half-stored key
      await rejected(() => post('/v1/alerts', a), field);
    });

    it('accepts well-formed astral characters and finds the incident by its key', async () => {
      const a = alert({ alarmName: unique('emoji-😀-𝄞') });
      await post('/v1/alerts', a).expect(202);
      await post('/v1/alerts', a).expect(202);
      await post('/v1/alerts', { ...a, status: 'resolved' }).expect(202);
      const detail = await t.api
        .get(`/v1/incidents/${encodeURIComponent(a.alarmName)}`)
        .expect(200);
      expect(detail.body).toMatchObject({ status: 'resolved', occurrences: 2 });
    });

    it('keys such as constructor are data, on HTTP and from Alertmanager labels', async () => {
      const a = alert({ customDetails: { constructor: 'x', prototype: 1 } });
      await post('/v1/alerts', a).expect(202);
      const stored = await t.dataSource
        .getRepository(Incident)
        .findOneByOrFail({ dedupKey: a.alarmName });
      expect(stored.customDetails).toEqual({ constructor: 'x', prototype: 1 });
      const res = await post(
        '/v1/alertmanager',
        alertmanagerGroup([{ labels: { constructor: 'c' } }]),
      ).expect(202);
      expect(res.body.results[0].action).toBe('triggered');
    });

    it('templates: environment', async () => {
      await rejected(
        () =>
          post('/v1/alerts/templates/high-latency', {
            currentValue: 1,
            threshold: 2,
            environment: `prod${NUL}`,
          }),
        'environment',
      );
    });

    it('Alertmanager: a label with U+0000 is a 400 naming it (Alertmanager does not retry a 4xx)', async () => {
      const messages = await rejected(
        () =>
          post(
            '/v1/alertmanager',
            alertmanagerGroup([{ labels: { instance: `a${NUL}b` } }]),
          ),
        'alerts[0].labels.instance',
      );
      expect(messages).toHaveLength(1);
    });

    it('EventBridge: an alarm name with a lone surrogate', async () => {
      await rejected(
        () =>
          post('/v1/cloudwatch/events', [
            eventBridge(unique('Fine')),
            eventBridge(`${unique('Bad')}${LONE_HIGH}`),
          ]),
        '[1].detail.alarmName',
      );
    });

    it('SNS: a verified alarm with U+0000 is a 400 naming Message.AlarmName, nothing stored, MessageId included', async () => {
      const before = await t.dataSource.getRepository(SnsMessageRecord).count();
      await rejected(
        () => deliverSns(JSON.stringify(alarmMessage(`cpu${NUL}`))),
        'Message.AlarmName',
      );
      expect(await t.dataSource.getRepository(SnsMessageRecord).count()).toBe(
        before,
      );
    });
  });

  describe('every edge applies the alert’s limits', () => {
    it('Alertmanager: an env label over 64 characters is a 400 naming it, and the whole group is refused', async () => {
      const warn = vi.spyOn(Logger.prototype, 'warn');
      try {
        const messages = await rejected(
          () =>
            post(
              '/v1/alertmanager',
              alertmanagerGroup([
                { labels: { alertname: unique('Good') } },
                { labels: { env: 'e'.repeat(65) } },
              ]),
            ),
          'alerts[1].labels.env',
        );
        expect(messages).toEqual([
          'alerts[1].labels.env must be shorter than or equal to 64 characters',
        ]);
        expect(warn).toHaveBeenCalledWith(
          expect.stringMatching(
            /^Alertmanager group .* refused: alerts\[1\]\.labels\.env must be/,
          ),
        );
      } finally {
        warn.mockRestore();
      }
    });

    it('Alertmanager: an over-long alertname and summary are fitted, not refused', async () => {
      const name = `${unique('Long')}${'n'.repeat(300)}`;
      const res = await post(
        '/v1/alertmanager',
        alertmanagerGroup([
          {
            labels: { alertname: name },
            annotations: { summary: 's'.repeat(9000) },
          },
        ]),
      ).expect(202);
      const stored = await t.dataSource
        .getRepository(Incident)
        .findOneByOrFail({ dedupKey: res.body.results[0].dedupKey });
      expect(stored.alarmName).toHaveLength(255);
      expect(stored.description).toHaveLength(8192);
      expect(stored.customDetails.labels).toMatchObject({ alertname: name });
    });

    it('EventBridge: a state timestamp in year 9999 is a 400 naming it', async () => {
      await rejected(
        () =>
          post(
            '/v1/cloudwatch/events',
            eventBridge(unique('Future'), {
              timestamp: '9999-12-31T23:59:59.000+0000',
            }),
          ),
        'detail.state.timestamp',
      );
    });

    it('SNS: a StateChangeTime in year 1970 is a 400 naming it', async () => {
      await rejected(
        () =>
          deliverSns(
            JSON.stringify(
              alarmMessage(unique('Old'), {
                StateChangeTime: '1970-01-01T00:00:00.000+0000',
              }),
            ),
          ),
        'Message.StateChangeTime',
      );
    });
  });

  describe('timestamp window and compressed bodies', () => {
    it.each([
      ['9999-12-31T23:59:59-23:59'],
      ['1999-12-31T23:59:59Z'],
      [new Date(Date.now() + 2 * DAY).toISOString()],
    ])('refuses timestamp %s, naming it, and pages nothing', async (ts) => {
      const messages = await rejected(
        () => post('/v1/alerts', alert({ timestamp: ts })),
        'timestamp',
      );
      expect(messages[0]).toMatch(/from 2000-01-01 to one day after now/);
      await new Promise((r) => setTimeout(r, 150));
      expect(pd.received).toHaveLength(0);
    });

    it('accepts a timestamp from an hour ahead and sends it as given', async () => {
      const ts = new Date(Date.now() + 3_600_000).toISOString();
      const a = alert({ timestamp: ts });
      await post('/v1/alerts', a).expect(202);
      const [event] = await pd.waitFor((r) =>
        r.some((e) => e.dedupKey === a.alarmName),
      );
      expect(event.body.payload.timestamp).toBe(ts);
    });

    it.each(['gzip', 'deflate, gzip', 'br'])(
      'answers Content-Encoding: %s with 415 saying compressed bodies are not accepted',
      async (encoding) => {
        const before = await counts();
        const res = await t.api
          .post('/v1/alerts')
          .set('Content-Type', 'application/json')
          .set('Content-Encoding', encoding)
          .send(gzipSync(JSON.stringify(alert())));
        expect(res.status).toBe(415);
        expect(res.body).toMatchObject({
          statusCode: 415,
          error: 'Unsupported Media Type',
        });
        expect(res.body.message).toMatch(
          /compressed request bodies are not accepted/,
        );
        expect(await counts()).toEqual(before);
      },
    );
  });
});

class ManualClock implements Clock {
  constructor(private t: number) {}
  now() {
    return new Date(this.t);
  }
  advance(ms: number) {
    this.t += ms;
  }
}

describe('Reconciler: one bad row never stops a pass (e2e)', () => {
  const pd = new FakePagerDuty();
  const clock = new ManualClock(Date.parse('2030-01-01T00:00:00.000Z'));
  let cw: CloudWatchFake;
  let t: TestApp;
  let sut: ReconcilerService;

  beforeAll(async () => {
    await pd.start();
    cw = await CloudWatchFake.start();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    t = await createTestApp({
      clock,
      env: {
        ...pagerDutyEnv(pd),
        AWS_ENDPOINT_URL: cw.endpoint,
        AWS_REGION: cw.region,
        RECONCILE_INTERVAL: '1h',
        INCIDENT_RESOLVE_TIMEOUT: '10m',
      },
    });
    sut = t.app.get(ReconcilerService);
  });
  afterAll(async () => {
    await t?.close();
    await cw?.close();
    await pd.stop();
    vi.unstubAllEnvs();
  });

  /** A row as a manual fix or an old release might have left it. */
  const badRow = (
    id: string,
    resolveTimeoutMs: number | null,
    customDetails = '{}',
  ) =>
    t.app.get(DatabaseService).query(
      t.dataSource.manager,
      `INSERT INTO incidents (id, dedup_key, open_key, status, severity, alarm_name, environment,
         recommendations, links, custom_details, alert_timestamp, occurrences, ingest_source,
         created_at, last_seen_at, resolve_timeout_ms)
       VALUES ($1, $1, $1, 'triggered', 'WARNING', 'bad', 'test', '[]', '[]', $2,
         '2030-01-01T00:00:00.000Z', 1, 'http', '2030-01-01T00:00:00.000Z',
         '2030-01-01T00:00:00.000Z', $3)`,
      [id, customDetails, resolveTimeoutMs],
    );
  const incident = (key: string) =>
    t.dataSource.getRepository(Incident).findOneByOrFail({ dedupKey: key });

  it('still resolves the other stale incidents and runs the CloudWatch pass', async () => {
    await t.api
      .post('/v1/alerts')
      .send([
        {
          severity: 'critical',
          alarmName: 'rc-own-timeout',
          resolveTimeout: '1m',
        },
        { severity: 'critical', alarmName: 'rc-default' },
      ])
      .expect(202);
    clock.advance(11 * 60_000);
    // fresh, so only the CloudWatch pass can resolve it
    const alarm = 'rc-lost-ok';
    cw.seed({ AlarmName: alarm, MetricName: 'ErrorRate', Namespace: 'Test' });
    cw.setState(alarm, 'ALARM');
    await t.app.get(IncidentService).ingest([
      {
        alert: { severity: 'CRITICAL', alarmName: alarm },
        meta: { source: 'sns', alarmArn: cw.arnOf(alarm) },
      },
    ]);
    // the old reconciler threw "Invalid time value" on the first and stopped
    await badRow('bad-huge-timeout', 9_007_199_254_740_991);
    await badRow('bad-negative-timeout', -5);
    await badRow('bad-json', 60_000, '{not json');
    cw.setState(alarm, 'OK');

    const result = await sut.tick();

    expect(result).toMatchObject({
      skipped: false,
      stale: 3,
      alarmOk: 1,
      failed: 1,
    });
    expect(result.staleError).toBeUndefined();
    expect(await incident('rc-own-timeout')).toMatchObject({
      status: 'resolved',
      resolveReason: 'stale',
    });
    expect((await incident('rc-default')).resolveReason).toBe('stale');
    expect((await incident(alarm)).resolveReason).toBe('alarm-ok');
    // brought back to 0..30 days: the negative one is due, the huge one in 30 days
    expect((await incident('bad-negative-timeout')).status).toBe('resolved');
    expect((await incident('bad-huge-timeout')).status).toBe('triggered');
    const [row] = await t.app
      .get(DatabaseService)
      .query<{ open_key: string | null }>(
        t.dataSource.manager,
        `SELECT open_key FROM incidents WHERE id = 'bad-json'`,
        [],
      );
    expect(row.open_key).toBe('bad-json');
    await pd.waitFor(
      (r) =>
        ['rc-own-timeout', 'rc-default', alarm].every((k) =>
          r.some((e) => e.dedupKey === k && e.body.event_action === 'resolve'),
        ),
      10_000,
    );
  });
});
