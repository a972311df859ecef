import { readFileSync } from 'node:fs';
import { CloudWatchFake } from './fakes/cloudwatch.fake.js';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  type TestApp,
  pagerDutyEnv,
} from './support/test-app.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { Delivery } from '../src/notifier/delivery.entity.js';

type Json = Record<string, any>;

function eventFixture(name: string): Json {
  return JSON.parse(
    readFileSync(
      new URL(`./fixtures/aws/eventbridge/${name}.json`, import.meta.url),
      'utf8',
    ),
  ) as Json;
}

let names = 0;

/** The single-metric sample, renamed so every test owns its incident, in the given state and time. */
function stateChange(
  alarmName: string,
  value: 'ALARM' | 'OK',
  timestamp: string,
): Json {
  const event = eventFixture('state-change-single-metric-alarm');
  event.id = `evt-${++names}`;
  event.resources = [
    `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`,
  ];
  event.detail.alarmName = alarmName;
  event.detail.state = { ...event.detail.state, value, timestamp };
  return event;
}

const uniqueName = () => `ServerCpuTooHigh-${process.pid}-${++names}`;

describe('POST /v1/cloudwatch/events (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });
  beforeEach(() => pd.reset());

  const post = (body: unknown) =>
    t.api.post('/v1/cloudwatch/events').send(body as object);
  const counts = async () => ({
    incidents: await t.dataSource.getRepository(Incident).count(),
    deliveries: await t.dataSource.getRepository(Delivery).count(),
  });

  it('requires the API key', async () => {
    await t
      .http()
      .post('/v1/cloudwatch/events')
      .send(stateChange(uniqueName(), 'ALARM', '2025-05-01T10:00:00.000+0000'))
      .expect(401);
  });

  it('ALARM then OK triggers then resolves under alarmName-metric name', async () => {
    const name = uniqueName();
    const key = `${name}-CPUUtilization`;
    const fired = await post(
      stateChange(name, 'ALARM', '2025-05-01T10:00:00.000+0000'),
    ).expect(202);
    expect(fired.body).toEqual({
      results: [
        { dedupKey: key, incidentId: expect.any(String), action: 'triggered' },
      ],
    });
    const ok = await post(
      stateChange(name, 'OK', '2025-05-01T10:05:00.000+0000'),
    ).expect(202);
    expect(ok.body.results).toEqual([
      {
        dedupKey: key,
        incidentId: fired.body.results[0].incidentId,
        action: 'resolved',
      },
    ]);

    const events = await pd.waitFor((r) => r.length === 2);
    expect(events.map((e) => [e.body.event_action, e.body.dedup_key])).toEqual([
      ['trigger', key],
      ['resolve', key],
    ]);
    expect(events[0].body.payload).toMatchObject({
      severity: 'critical',
      custom_details: {
        alarmName: name,
        metricName: 'CPUUtilization',
        threshold: 50,
        currentValue: 99.50160229693434,
      },
    });
    expect(await t.incidentsOf(key)).toEqual([
      expect.objectContaining({
        status: 'resolved',
        ingestSource: 'eventbridge',
        alarmArn: `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${name}`,
      }),
    ]);
  });

  it('applies the same ALARM delivered twice once', async () => {
    const name = uniqueName();
    const key = `${name}-CPUUtilization`;
    const event = stateChange(name, 'ALARM', '2025-05-01T10:00:00.000+0000');
    await post(event).expect(202);
    const again = await post(event).expect(202);
    expect(again.body.results[0]).toMatchObject({
      dedupKey: key,
      action: 'deduplicated',
    });

    expect(await t.incidentsOf(key)).toHaveLength(1);
    expect((await t.deliveriesOf(key)).map((d) => d.action)).toEqual([
      'trigger',
    ]);
    const events = await pd.waitFor((r) => r.length === 1);
    expect(events[0].body.event_action).toBe('trigger');
  });

  it('ignores an ALARM older than the OK already applied: no reopened incident, no new trigger', async () => {
    const name = uniqueName();
    const key = `${name}-CPUUtilization`;
    await post(
      stateChange(name, 'ALARM', '2025-05-01T10:00:00.000+0000'),
    ).expect(202);
    await post(stateChange(name, 'OK', '2025-05-01T10:10:00.000+0000')).expect(
      202,
    );
    const late = await post(
      stateChange(name, 'ALARM', '2025-05-01T10:05:00.000+0000'),
    ).expect(202);
    expect(late.body.results[0]).toMatchObject({
      dedupKey: key,
      action: 'ignored',
    });

    const incidents = await t.incidentsOf(key);
    expect(incidents).toHaveLength(1);
    expect(incidents[0].status).toBe('resolved');
    expect((await t.deliveriesOf(key)).map((d) => d.action)).toEqual([
      'trigger',
      'resolve',
    ]);
    const events = await pd.waitFor((r) => r.length === 2);
    expect(events.map((e) => e.body.event_action)).toEqual([
      'trigger',
      'resolve',
    ]);
  });

  it('takes an array: composite and metric-math samples map, another detail-type is ignored in place', async () => {
    const res = await post([
      eventFixture('state-change-composite-alarm-with-suppressor'),
      eventFixture('config-change-update-metric-alarm'),
      eventFixture('state-change-metric-math-alarm'),
    ]).expect(202);

    expect(res.body.results).toEqual([
      {
        dedupKey: 'ServiceAggregatedAlarm',
        incidentId: expect.any(String),
        action: 'triggered',
      },
      {
        dedupKey: null,
        incidentId: null,
        action: 'ignored',
        reason: expect.stringContaining(
          'CloudWatch Alarm Configuration Change',
        ),
      },
      {
        dedupKey: 'TotalNetworkTrafficTooHigh-e1',
        incidentId: expect.any(String),
        action: 'triggered',
      },
    ]);
    expect(await t.incidentsOf('ServiceAggregatedAlarm')).toEqual([
      expect.objectContaining({
        metricName: null,
        status: 'triggered',
        ingestSource: 'eventbridge',
      }),
    ]);
    expect(await t.incidentsOf('TotalNetworkTrafficTooHigh-e1')).toEqual([
      expect.objectContaining({ metricName: 'e1', status: 'triggered' }),
    ]);
    const events = await pd.waitFor((r) => r.length === 2);
    expect(events.map((e) => e.body.dedup_key).sort()).toEqual([
      'ServiceAggregatedAlarm',
      'TotalNetworkTrafficTooHigh-e1',
    ]);
  });

  it('answers 202 "ignored" for an unsupported detail-type and stores nothing', async () => {
    const before = await counts();
    const res = await post(
      eventFixture('config-change-update-metric-alarm'),
    ).expect(202);
    expect(res.body.results).toEqual([
      {
        dedupKey: null,
        incidentId: null,
        action: 'ignored',
        reason: expect.stringContaining('unsupported EventBridge detail-type'),
      },
    ]);
    expect(await counts()).toEqual(before);
  });

  describe('malformed: 400 naming the problem, nothing stored', () => {
    const cases: [string, unknown, string][] = [
      ['no detail-type', { detail: {} }, 'detail-type'],
      [
        'no alarm name',
        {
          'detail-type': 'CloudWatch Alarm State Change',
          detail: { state: { value: 'ALARM' } },
        },
        'detail.alarmName',
      ],
      [
        'an unknown state',
        {
          'detail-type': 'CloudWatch Alarm State Change',
          detail: { alarmName: 'x', state: { value: 'ON_FIRE' } },
        },
        'ON_FIRE',
      ],
      [
        'a bad second event (the first is not stored either)',
        [
          stateChange('BatchVictim', 'ALARM', '2025-05-01T10:00:00.000+0000'),
          { detail: {} },
        ],
        '[1]',
      ],
      ['an empty array', [], '1 to 100'],
      ['a number', 42, 'detail-type'],
    ];
    it.each(cases)('%s', async (_name, body, mentions) => {
      const before = await counts();
      const res = await t.api
        .post('/v1/cloudwatch/events')
        .set('content-type', 'application/json')
        .send(JSON.stringify(body))
        .expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(JSON.stringify(res.body.message)).toContain(mentions);
      expect(await counts()).toEqual(before);
      expect(await t.incidentsOf('BatchVictim-CPUUtilization')).toEqual([]);
    });
  });
});

describe('CloudWatch alarm manager over HTTP (e2e)', () => {
  const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:hybrid-routing-alarms';
  const PREFIX = 'production-hybrid-routing-';
  const OWNER = [{ Key: 'ManagedBy', Value: 'orchestrator-alerting' }];
  const savedEnv = {
    id: process.env.AWS_ACCESS_KEY_ID,
    secret: process.env.AWS_SECRET_ACCESS_KEY,
  };
  let cw: CloudWatchFake;
  let t: TestApp;

  beforeAll(async () => {
    // The SDK's default credential chain; the fake does not check signatures.
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    cw = await CloudWatchFake.start({ region: 'eu-central-1' });
    t = await createTestApp({
      env: {
        APP_ENV: 'production',
        NOTIFIERS: 'log',
        SNS_TOPIC_ARN: TOPIC,
        AWS_REGION: 'eu-central-1',
        AWS_ENDPOINT_URL: cw.endpoint,
        // the reconciler would otherwise share the fake and its call log
        RECONCILE_CLOUDWATCH: 'false',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await cw?.close();
    process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
    process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
    if (savedEnv.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (savedEnv.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  });
  beforeEach(() => cw.reset());

  const names = (specs: { alarmName: string }[]) =>
    specs.map((s) => s.alarmName).sort();
  const ALL = [
    `${PREFIX}cost-threshold`,
    `${PREFIX}high-failure-rate`,
    `${PREFIX}high-latency`,
  ];

  it('requires the API key', async () => {
    await t.http().get('/v1/cloudwatch/alarms/plan').expect(401);
    await t.http().post('/v1/cloudwatch/alarms/apply').expect(401);
    expect(cw.callCount()).toBe(0);
  });

  it('plans three creations from empty, applies them, then has nothing to do', async () => {
    const plan = await t.api.get('/v1/cloudwatch/alarms/plan').expect(200);
    expect(plan.body).toMatchObject({
      region: 'eu-central-1',
      namePrefix: PREFIX,
      snsTopicArn: TOPIC,
    });
    expect(names(plan.body.plan.create)).toEqual(ALL);
    expect(plan.body.plan).toMatchObject({
      update: [],
      delete: [],
      unchanged: [],
      conflicts: [],
    });
    expect(cw.callCount('PutMetricAlarm')).toBe(0);

    const applied = await t.api.post('/v1/cloudwatch/alarms/apply').expect(200);
    expect(applied.body.result.created.sort()).toEqual(ALL);
    expect(applied.body.result).toMatchObject({
      updated: [],
      deleted: [],
      skipped: [],
    });
    expect(
      cw
        .list()
        .map((a) => a.AlarmName)
        .sort(),
    ).toEqual(ALL);
    for (const name of ALL) {
      expect(cw.get(name)).toMatchObject({
        AlarmActions: [TOPIC],
        OKActions: [TOPIC],
      });
      expect(cw.tagsOf(name)).toEqual(OWNER);
    }

    const after = await t.api.get('/v1/cloudwatch/alarms/plan').expect(200);
    expect(after.body.plan).toMatchObject({
      create: [],
      update: [],
      delete: [],
      conflicts: [],
    });
    expect(after.body.plan.unchanged.sort()).toEqual(ALL);
  });

  it('updates a changed threshold with one PutMetricAlarm', async () => {
    await t.api.post('/v1/cloudwatch/alarms/apply').expect(200);
    const name = `${PREFIX}high-latency`;
    cw.seed(
      { ...cw.get(name)!, AlarmName: name, Threshold: 1234 },
      cw.tagsOf(name),
    );

    const plan = await t.api.get('/v1/cloudwatch/alarms/plan').expect(200);
    expect(plan.body.plan.update).toEqual([
      expect.objectContaining({
        changes: ['threshold'],
        diff: { threshold: { from: 1234, to: 5000 } },
      }),
    ]);
    const puts = cw.callCount('PutMetricAlarm');
    const applied = await t.api.post('/v1/cloudwatch/alarms/apply').expect(200);
    expect(applied.body.result).toMatchObject({
      created: [],
      updated: [name],
      deleted: [],
    });
    expect(cw.callCount('PutMetricAlarm')).toBe(puts + 1);
    expect(cw.get(name)?.Threshold).toBe(5000);
  });

  it('never deletes or overwrites an alarm it does not own', async () => {
    cw.seed({
      AlarmName: `${PREFIX}high-latency`,
      MetricName: 'Handmade',
      Namespace: 'Ops',
      Threshold: 1,
    });
    cw.seed({
      AlarmName: `${PREFIX}handmade`,
      MetricName: 'Handmade',
      Namespace: 'Ops',
      Threshold: 1,
    });
    cw.seed(
      {
        AlarmName: `${PREFIX}retired`,
        MetricName: 'Old',
        Namespace: 'Ops',
        Threshold: 1,
      },
      OWNER,
    );
    cw.seed(
      {
        AlarmName: 'staging-hybrid-routing-retired',
        MetricName: 'Old',
        Namespace: 'Ops',
        Threshold: 1,
      },
      OWNER,
    );

    const plan = await t.api.get('/v1/cloudwatch/alarms/plan').expect(200);
    expect(names(plan.body.plan.create)).toEqual([
      `${PREFIX}cost-threshold`,
      `${PREFIX}high-failure-rate`,
    ]);
    expect(plan.body.plan.delete).toEqual([`${PREFIX}retired`]);
    expect(plan.body.plan.conflicts).toEqual([
      expect.objectContaining({ alarmName: `${PREFIX}high-latency` }),
    ]);

    const applied = await t.api.post('/v1/cloudwatch/alarms/apply').expect(200);
    expect(applied.body.result.deleted).toEqual([`${PREFIX}retired`]);
    expect(cw.get(`${PREFIX}handmade`)).toBeDefined();
    expect(cw.get('staging-hybrid-routing-retired')).toBeDefined();
    expect(cw.get(`${PREFIX}high-latency`)).toMatchObject({
      MetricName: 'Handmade',
      Threshold: 1,
    });
    expect(cw.get(`${PREFIX}retired`)).toBeUndefined();
    const deleted = cw.calls
      .filter((c) => c.operation === 'DeleteAlarms')
      .flatMap((c) => c.input.AlarmNames as string[]);
    expect(deleted).toEqual([`${PREFIX}retired`]);
  });

  it('answers 503 naming the AWS error when CloudWatch refuses', async () => {
    cw.failNext('DescribeAlarms', {
      status: 403,
      code: 'AccessDenied',
      message: 'not allowed to describe alarms',
    });
    const res = await t.api.get('/v1/cloudwatch/alarms/plan').expect(503);
    expect(res.body.message).toContain('AccessDenied');
  });

  it('answers 409 when SNS_TOPIC_ARN is not set, without calling CloudWatch', async () => {
    const bare = await createTestApp({
      env: {
        APP_ENV: 'production',
        NOTIFIERS: 'log',
        AWS_ENDPOINT_URL: cw.endpoint,
        RECONCILE_CLOUDWATCH: 'false',
      },
    });
    try {
      const plan = await bare.api.get('/v1/cloudwatch/alarms/plan').expect(409);
      expect(plan.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect(plan.body.message).toContain('SNS_TOPIC_ARN');
      await bare.api.post('/v1/cloudwatch/alarms/apply').expect(409);
      expect(cw.callCount()).toBe(0);
    } finally {
      await bare.close();
    }
  });
});
