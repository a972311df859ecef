import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { SnsTestSigner } from './fakes/sns-signer.js';
import {
  createTestApp,
  pagerDutyEnv,
  type TestApp,
} from './support/test-app.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { Delivery } from '../src/notifier/delivery.entity.js';

/**
 * Generated requests, valid and not, at every ingestion route: never a 5xx, a rejected
 * request stores nothing, and every alert answered 202 can be found by its key.
 * `npm test` runs a fixed seed and 40 runs per route; `npm run fuzz` runs 500 per route
 * with a new seed each time (FUZZ_RUNS, FUZZ_SEED to change either; a failure prints
 * the seed and the shrunk counterexample to replay).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const SEED =
  process.env.FUZZ_SEED === 'random'
    ? Date.now() % 2 ** 31
    : Number(process.env.FUZZ_SEED ?? 20261130);
const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:property-alarms';

type Json = Record<string, any>;

function fixture(path: string): Json {
  return JSON.parse(
    readFileSync(new URL(`./fixtures/${path}`, import.meta.url), 'utf8'),
  ) as Json;
}

// ---- building blocks ----------------------------------------------------------------

const odd = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udc00',
    '😀',
    '\u200b',
    '',
    ' ',
    'x'.repeat(300),
    'é'.repeat(70),
    '__proto__',
    'constructor',
  ),
);
const name = fc
  .string({ minLength: 1, maxLength: 20, unit: 'grapheme-ascii' })
  .map((s) => s.replace(/[^\w-]/g, '_') || 'n');
const text = fc.string({ maxLength: 40 });
const deep = fc.integer({ min: 15, max: 60 }).map((depth) => {
  let v: unknown = {};
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
});
const number = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e300, -1e300, 0, 1.5, Number.MAX_SAFE_INTEGER, 2 ** 31),
);
const wrong = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  odd,
  deep,
  number,
  fc.array(fc.constant({}), { minLength: 21, maxLength: 40 }),
);
/** Mostly the good value, sometimes anything else. */
const field = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 8, arbitrary: good }, { weight: 1, arbitrary: wrong });
const iso = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .integer({ min: -30 * 86_400_000, max: 3_600_000 })
      .map((offset) => new Date(Date.now() + offset).toISOString()),
  },
  {
    weight: 1,
    arbitrary: fc
      .date({
        min: new Date('0001-01-01'),
        max: new Date('9999-12-31'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '9999-12-31T23:59:59-23:59',
      '0001-01-01T00:00:00Z',
      '2025-02-30T00:00:00Z',
      'yesterday',
    ),
  },
);
const extras = fc.dictionary(odd, fc.jsonValue({ maxDepth: 2 }), {
  maxKeys: 2,
});
const withExtras = <T extends Json>(base: fc.Arbitrary<T>) =>
  fc
    .tuple(base, fc.option(extras, { freq: 5 }))
    .map(([b, e]) => (e ? { ...b, ...e } : b));

const alert = withExtras(
  fc.record(
    {
      severity: field(
        fc.constantFrom('critical', 'ERROR', 'Warning', 'info', 'bogus'),
      ),
      alarmName: field(name),
      metricName: field(name),
      threshold: field(number),
      currentValue: field(number),
      timestamp: field(iso),
      environment: field(fc.constantFrom('production', 'staging', 'dev')),
      description: field(text),
      recommendations: field(fc.array(text, { maxLength: 22 })),
      status: field(fc.constantFrom('firing', 'resolved')),
      dedupKey: field(name),
      source: field(text),
      component: field(text),
      group: field(text),
      class: field(text),
      links: field(
        fc.array(
          fc.record(
            { href: fc.webUrl(), text: field(text) },
            { requiredKeys: ['href'] },
          ),
          { maxLength: 22 },
        ),
      ),
      customDetails: field(
        fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
      ),
      resolveTimeout: field(
        fc.oneof(
          fc.constantFrom('30s', '4h', '30d', '31d', '999999999d', '1.5s'),
          number,
        ),
      ),
    },
    { requiredKeys: ['severity', 'alarmName'] },
  ),
);

const labelValue = fc.oneof(
  { weight: 8, arbitrary: name },
  { weight: 1, arbitrary: odd },
);
const alertmanagerAlert = withExtras(
  fc.record(
    {
      status: field(fc.constantFrom('firing', 'resolved')),
      labels: fc.oneof(
        {
          weight: 10,
          arbitrary: fc
            .tuple(
              labelValue,
              fc.dictionary(
                fc.oneof(name, odd),
                fc.oneof(labelValue, fc.constant('e'.repeat(65))),
                { maxKeys: 3 },
              ),
            )
            .map(([alertname, rest]) => ({ alertname, ...rest })),
        },
        { weight: 1, arbitrary: wrong },
      ),
      annotations: field(
        fc.record(
          { summary: fc.oneof(text, odd), description: text },
          { requiredKeys: [] },
        ),
      ),
      startsAt: field(iso),
      endsAt: field(iso),
      generatorURL: field(fc.webUrl()),
      fingerprint: field(fc.stringMatching(/^[0-9a-f]{16}$/)),
    },
    { requiredKeys: ['labels'] },
  ),
);
const alertmanagerWebhook = withExtras(
  fc.record({
    version: field(fc.constant('4')),
    status: field(fc.constantFrom('firing', 'resolved')),
    groupKey: field(text),
    alerts: field(fc.array(alertmanagerAlert, { maxLength: 4 })),
  }),
);

const eventBridgeEvent = fc
  .record({
    alarmName: field(name),
    value: field(fc.constantFrom('ALARM', 'OK', 'INSUFFICIENT_DATA', 'BOGUS')),
    timestamp: field(iso),
    reason: field(text),
    description: field(fc.oneof(text, odd)),
    detailType: fc.oneof(
      { weight: 8, arbitrary: fc.constant('CloudWatch Alarm State Change') },
      {
        weight: 1,
        arbitrary: fc.constant('CloudWatch Alarm Configuration Change'),
      },
      { weight: 1, arbitrary: wrong },
    ),
  })
  .map((g) => {
    const event = fixture(
      'aws/eventbridge/state-change-single-metric-alarm.json',
    );
    event['detail-type'] = g.detailType;
    event.detail.alarmName = g.alarmName;
    event.detail.state = {
      ...event.detail.state,
      value: g.value,
      timestamp: g.timestamp,
      reason: g.reason,
    };
    event.detail.configuration.description = g.description;
    return event;
  });

const snsAlarm = fc
  .record({
    AlarmName: field(name),
    NewStateValue: field(fc.constantFrom('ALARM', 'OK', 'INSUFFICIENT_DATA')),
    StateChangeTime: field(iso),
    NewStateReason: field(text),
    AlarmDescription: field(fc.oneof(text, odd)),
    TriggeringChildren: fc.option(wrong, { freq: 5 }),
  })
  .map((m) => ({
    AWSAccountId: '123456789012',
    AlarmArn: `arn:aws:cloudwatch:eu-central-1:123456789012:alarm:${String(m.AlarmName)}`,
    Trigger: {
      MetricName: 'CPUUtilization',
      Namespace: 'AWS/EC2',
      Threshold: 80,
    },
    ...m,
  }));

// ---- the properties -----------------------------------------------------------------

describe('Ingestion properties (e2e, fast-check)', () => {
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

  const counts = async () => ({
    incidents: await t.dataSource.getRepository(Incident).count(),
    deliveries: await t.dataSource.getRepository(Delivery).count(),
  });

  /** The invariants every ingestion answer keeps. */
  async function check(
    send: () => Promise<{ status: number; body: Json }>,
    items: number | null,
  ): Promise<void> {
    const before = await counts();
    const res = await send();
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
    if (res.status >= 400) {
      expect(res.body).toMatchObject({ statusCode: res.status });
      if (Array.isArray(res.body.message))
        expect(res.body.message.length).toBeLessThanOrEqual(21);
      expect(await counts()).toEqual(before);
      return;
    }
    const results: Json[] = res.body.results ?? [];
    if (items !== null) expect(results).toHaveLength(items);
    for (const r of results) {
      if (!['triggered', 'deduplicated', 'resolved'].includes(r.action))
        continue;
      const found = await t.api
        .get(`/v1/incidents/${encodeURIComponent(r.dedupKey)}`)
        .expect(200);
      expect(found.body.dedupKey).toBe(r.dedupKey);
      expect(found.body.id).toBe(r.incidentId);
    }
  }

  const options = { numRuns: RUNS, seed: SEED, endOnFailure: true };

  it('POST /v1/alerts: one alert, a batch, or anything', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: alert },
          {
            weight: 4,
            arbitrary: fc.array(alert, { minLength: 1, maxLength: 5 }),
          },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        ),
        (body) =>
          check(
            () =>
              t.api
                .post('/v1/alerts')
                .set('Content-Type', 'application/json')
                .send(JSON.stringify(body)),
            Array.isArray(body) ? body.length : 1,
          ),
      ),
      options,
    );
  });

  it('POST /v1/alerts/templates/:name', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          'high-failure-rate',
          'high-latency',
          'cost-threshold',
          'nope',
        ),
        withExtras(
          fc.record(
            {
              currentValue: field(number),
              threshold: field(number),
              environment: field(fc.oneof(name, odd)),
            },
            { requiredKeys: [] },
          ),
        ),
        (template, body) =>
          check(
            () => t.api.post(`/v1/alerts/templates/${template}`).send(body),
            1,
          ),
      ),
      options,
    );
  });

  it('POST /v1/alertmanager', async () => {
    await fc.assert(
      fc.asyncProperty(alertmanagerWebhook, (body) =>
        check(
          () => t.api.post('/v1/alertmanager').send(body),
          Array.isArray(body.alerts) ? body.alerts.length : null,
        ),
      ),
      options,
    );
  });

  it('POST /v1/cloudwatch/events', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          eventBridgeEvent,
          fc.array(eventBridgeEvent, { minLength: 1, maxLength: 4 }),
        ),
        (body) =>
          check(
            () => t.api.post('/v1/cloudwatch/events').send(body as object),
            Array.isArray(body) ? body.length : 1,
          ),
      ),
      options,
    );
  });

  it('POST /v1/sns with a signed CloudWatch alarm', async () => {
    await fc.assert(
      fc.asyncProperty(snsAlarm, (message) => {
        const body = signer.notification({
          topicArn: TOPIC,
          message: JSON.stringify(message),
          subject: 'ALARM',
          signatureVersion: '1',
        }) as unknown as Json;
        return check(
          () =>
            t
              .http()
              .post('/v1/sns')
              .set(signer.headersFor(body as never))
              .send(JSON.stringify(body)),
          null,
        );
      }),
      options,
    );
  });
});
