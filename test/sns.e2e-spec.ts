import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { FakeSnsEndpoint } from './fakes/sns-endpoint.fake.js';
import { SnsTestSigner, type SignatureVersion } from './fakes/sns-signer.js';
import {
  createTestApp,
  ROUTING_KEY,
  type TestApp,
  pagerDutyEnv,
} from './support/test-app.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { Delivery } from '../src/notifier/delivery.entity.js';
import { SnsMessageRecord } from '../src/sns/sns-message.entity.js';

const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:hybrid-routing-alarms-a';
// One byte away from TOPIC and also allowed, so a changed TopicArn reaches the signature check.
const TOPIC_B = 'arn:aws:sns:eu-central-1:123456789012:hybrid-routing-alarms-b';
const FOREIGN_TOPIC =
  'arn:aws:sns:eu-central-1:123456789012:someone-elses-topic';
const ALARM_ARN = 'arn:aws:cloudwatch:eu-central-1:123456789012:alarm:';

type State = 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
type Body = Record<string, unknown>;

/** A CloudWatch alarm message as SNS carries it in `Message`. */
function alarmMessage(
  name: string,
  state: State,
  stateChangeTime: string,
  over: Body = {},
): Body {
  return {
    AlarmName: name,
    AlarmDescription: '[WARNING] CPU of the router is too high',
    AWSAccountId: '123456789012',
    NewStateValue: state,
    NewStateReason:
      state === 'OK'
        ? 'Threshold Crossed: 1 out of the last 1 datapoints [12.5 (01/05/25 10:05:00)] was not greater than the threshold (80.0).'
        : 'Threshold Crossed: 1 out of the last 1 datapoints [91.5 (01/05/25 10:00:00)] was greater than the threshold (80.0).',
    StateChangeTime: stateChangeTime,
    Region: 'EU (Frankfurt)',
    AlarmArn: `${ALARM_ARN}${name}`,
    OldStateValue: state === 'ALARM' ? 'OK' : 'ALARM',
    Trigger: {
      MetricName: 'CPUUtilization',
      Namespace: 'AWS/EC2',
      StatisticType: 'Statistic',
      Statistic: 'AVERAGE',
      Unit: null,
      Dimensions: [{ value: 'i-0123', name: 'InstanceId' }],
      Period: 60,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 80.0,
      TreatMissingData: '',
      EvaluateLowSampleCountPercentile: '',
    },
    ...over,
  };
}

function fixtureMessage(path: string): string {
  const body = JSON.parse(
    readFileSync(new URL(`./fixtures/aws/${path}`, import.meta.url), 'utf8'),
  ) as {
    Message?: string;
    Records?: { Sns: { Message: string } }[];
  };
  return body.Message ?? body.Records![0].Sns.Message;
}

let names = 0;
const uniqueName = (prefix = 'RouterCpuHigh') =>
  `${prefix}-${process.pid}-${++names}`;

/** A local server that must never be contacted: counts whatever reaches it. */
async function startTrap(): Promise<{
  url: string;
  requests: string[];
  stop: () => Promise<void>;
}> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.end('trap');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('POST /v1/sns (e2e)', () => {
  const pd = new FakePagerDuty();
  let signer: SnsTestSigner;
  let trap: Awaited<ReturnType<typeof startTrap>>;
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    signer = await SnsTestSigner.start();
    trap = await startTrap();
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
        SNS_CERT_URL_PATTERN: signer.certUrlPattern.source,
        SNS_TOPIC_ARNS: `${TOPIC},${TOPIC_B}`,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await signer?.stop();
    await trap?.stop();
    await pd.stop();
  });
  beforeEach(() => {
    pd.reset();
    signer.resetCounters();
    trap.requests.length = 0;
  });

  /** As SNS posts it: text/plain JSON, no API key. */
  const deliver = (
    body: Body,
    headersFrom: Body = body,
    contentType?: string,
  ) => {
    const headers = signer.headersFor(
      headersFrom as { Type: string; MessageId: string; TopicArn: string },
    );
    if (contentType) headers['content-type'] = contentType;
    return t.http().post('/v1/sns').set(headers).send(JSON.stringify(body));
  };

  const notify = (
    message: unknown,
    options: {
      version?: SignatureVersion;
      messageId?: string;
      topic?: string;
    } = {},
  ) =>
    signer.notification({
      topicArn: options.topic ?? TOPIC,
      message,
      subject: 'ALARM: "RouterCpuHigh" in EU (Frankfurt)',
      messageId: options.messageId,
      signatureVersion: options.version ?? '1',
    }) as unknown as Body;

  const counts = async () => ({
    incidents: await t.dataSource.getRepository(Incident).count(),
    deliveries: await t.dataSource.getRepository(Delivery).count(),
    snsMessages: await t.dataSource.getRepository(SnsMessageRecord).count(),
  });

  describe('authentic deliveries', () => {
    it.each([
      ['1', 'text/plain; charset=UTF-8'],
      ['2', 'text/plain; charset=UTF-8'],
      ['1', 'application/json'],
      ['2', 'application/json'],
    ] as [SignatureVersion, string][])(
      'accepts SignatureVersion %s sent as %s, without an API key',
      async (version, contentType) => {
        const name = uniqueName();
        const body = notify(
          alarmMessage(name, 'ALARM', '2025-05-01T10:00:00.000+0000'),
          { version },
        );
        const res = await deliver(body, body, contentType).expect(202);

        const key = `${name}-CPUUtilization`;
        expect(res.body).toEqual({
          messageId: body.MessageId,
          type: 'Notification',
          outcome: 'ingested',
          results: [
            {
              dedupKey: key,
              incidentId: expect.any(String),
              action: 'triggered',
            },
          ],
        });
        const [incident] = await t.incidentsOf(key);
        expect(incident).toMatchObject({
          status: 'triggered',
          severity: 'WARNING',
          ingestSource: 'sns',
          alarmArn: `${ALARM_ARN}${name}`,
          environment: 'production',
          threshold: 80,
          currentValue: 91.5,
        });
        const record = await t.dataSource
          .getRepository(SnsMessageRecord)
          .findOneByOrFail({
            messageId: body.MessageId as string,
          });
        expect(record).toMatchObject({
          topicArn: TOPIC,
          type: 'Notification',
          outcome: 'ingested',
        });
        const [event] = await pd.waitFor((r) => r.length === 1);
        expect(event.body).toMatchObject({
          event_action: 'trigger',
          dedup_key: key,
          routing_key: ROUTING_KEY,
          payload: {
            severity: 'warning',
            custom_details: { alarmName: name, metricName: 'CPUUtilization' },
          },
        });
      },
    );

    it('is not behind the API key: the signature is the authentication', async () => {
      const body = notify(
        alarmMessage(uniqueName(), 'ALARM', '2025-05-01T10:00:00.000+0000'),
      );
      await deliver(body).set('Authorization', 'Bearer wrong-key').expect(202);
      await t
        .http()
        .post('/v1/alerts')
        .set('Authorization', 'Bearer wrong-key')
        .send({})
        .expect(401);
      // let its trigger go out here, not into the next test's fake
      await pd.waitFor((r) => r.length === 1);
    });
  });

  describe('inauthentic deliveries: 403 with the reason, nothing stored, nothing fetched elsewhere', () => {
    const flip = (value: string, at = Math.floor(value.length / 2)) =>
      value.slice(0, at) +
      (value[at] === 'x' ? 'y' : 'x') +
      value.slice(at + 1);

    const cases: [
      string,
      (b: Body, version: SignatureVersion) => Body | string,
      string,
    ][] = [
      [
        'a changed byte in Message',
        (b) => ({ ...b, Message: flip(b.Message as string) }),
        'bad-signature',
      ],
      [
        'a changed byte in MessageId',
        (b) => ({ ...b, MessageId: flip(b.MessageId as string) }),
        'bad-signature',
      ],
      [
        'a changed byte in Subject',
        (b) => ({ ...b, Subject: flip(b.Subject as string) }),
        'bad-signature',
      ],
      [
        'a changed byte in Timestamp',
        (b) => ({
          ...b,
          Timestamp: (b.Timestamp as string).replace(/^2/, '3'),
        }),
        'bad-signature',
      ],
      [
        'a changed byte in TopicArn',
        (b) => ({ ...b, TopicArn: TOPIC_B }),
        'bad-signature',
      ],
      [
        'a changed byte in Type',
        (b) => ({ ...b, Type: 'Notificatiom' }),
        'unknown-type',
      ],
      ['Subject removed', ({ Subject: _s, ...b }) => b, 'bad-signature'],
      [
        'the signature of another message',
        (b) => ({ ...b, Signature: notify('another message').Signature }),
        'bad-signature',
      ],
      [
        'a corrupted signature',
        (b) => ({ ...b, Signature: flip(b.Signature as string, 10) }),
        'bad-signature',
      ],
      [
        'the other SignatureVersion',
        (b, v) => ({ ...b, SignatureVersion: v === '1' ? '2' : '1' }),
        'bad-signature',
      ],
      [
        'an unknown SignatureVersion',
        (b) => ({ ...b, SignatureVersion: '3' }),
        'unsupported-signature-version',
      ],
      [
        'a SigningCertURL outside the pattern (AWS-looking)',
        (b) => ({
          ...b,
          SigningCertURL:
            'https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-x.pem',
        }),
        'bad-cert-url',
      ],
      [
        'a SigningCertURL on another local server',
        (b) => ({ ...b, SigningCertURL: `${trap.url}/cert.pem` }),
        'bad-cert-url',
      ],
      [
        'no Signature (raw message delivery)',
        ({ Signature: _s, ...b }) => b,
        'unsigned',
      ],
      [
        'no SignatureVersion',
        ({ SignatureVersion: _s, ...b }) => b,
        'missing-field',
      ],
      [
        'no SigningCertURL',
        ({ SigningCertURL: _s, ...b }) => b,
        'missing-field',
      ],
      ['no MessageId', ({ MessageId: _s, ...b }) => b, 'missing-field'],
      ['no TopicArn', ({ TopicArn: _s, ...b }) => b, 'missing-field'],
      ['no Message', ({ Message: _s, ...b }) => b, 'missing-field'],
      ['no Timestamp', ({ Timestamp: _s, ...b }) => b, 'missing-field'],
      ['no Type', ({ Type: _s, ...b }) => b, 'unknown-type'],
      [
        'the bare alarm JSON',
        (b) => JSON.parse(b.Message as string) as Body,
        'unsigned',
      ],
      ['a body that is not JSON', () => 'AlarmName=x', 'malformed'],
    ];

    const versions: SignatureVersion[] = ['1', '2'];
    it.each(
      cases.flatMap(([name, mutate, code]) =>
        versions.map((v) => [`${name} (SV${v})`, v, mutate, code] as const),
      ),
    )('%s', async (_name, version, mutate, code) => {
      const alarmName = uniqueName();
      const original = notify(
        alarmMessage(alarmName, 'ALARM', '2025-05-01T10:00:00.000+0000'),
        { version },
      );
      const mutated = mutate(original, version);
      const before = await counts();

      const res = await t
        .http()
        .post('/v1/sns')
        .set(
          signer.headersFor(
            original as { Type: string; MessageId: string; TopicArn: string },
          ),
        )
        .send(typeof mutated === 'string' ? mutated : JSON.stringify(mutated))
        .expect(403);

      expect(res.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
      expect(res.body.message).toContain(code);
      expect(await counts()).toEqual(before);
      expect(trap.requests).toEqual([]);
      expect(pd.requests.filter((r) => r.rawBody.includes(alarmName))).toEqual(
        [],
      );
    });

    it('refuses a signed message for a topic outside the allowlist before fetching the certificate', async () => {
      const body = notify(
        alarmMessage(uniqueName(), 'ALARM', '2025-05-01T10:00:00.000+0000'),
        {
          topic: FOREIGN_TOPIC,
        },
      );
      const before = await counts();
      const res = await deliver(body).expect(403);
      expect(res.body.message).toContain('topic-not-allowed');
      expect(await counts()).toEqual(before);
      expect(signer.requests).toEqual([]);
    });
  });

  describe('subscriptions', () => {
    it('confirms a SubscriptionConfirmation with exactly one GET of SubscribeURL, once per MessageId', async () => {
      const body = signer.subscriptionConfirmation({
        topicArn: TOPIC,
        signatureVersion: '2',
      }) as unknown as Body;
      const res = await deliver(body).expect(200);
      expect(res.body).toEqual({
        messageId: body.MessageId,
        type: 'SubscriptionConfirmation',
        outcome: 'confirmed',
      });
      expect(signer.confirmRequests).toHaveLength(1);
      expect(signer.confirmRequests[0]).toContain(
        `Token=${body.Token as string}`,
      );

      const again = await deliver(body).expect(200);
      expect(again.body.outcome).toBe('duplicate');
      expect(signer.confirmRequests).toHaveLength(1);
      expect(
        await t.dataSource
          .getRepository(SnsMessageRecord)
          .findOneBy({ messageId: body.MessageId as string }),
      ).toMatchObject({
        outcome: 'confirmed',
      });
    });

    it('refuses a SubscribeURL on another host without any request to it, storing nothing', async () => {
      const body = signer.subscriptionConfirmation({
        topicArn: TOPIC,
        subscribeUrl: `${trap.url}/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=abc`,
      }) as unknown as Body;
      const before = await counts();
      const res = await deliver(body).expect(403);
      expect(res.body.message).toContain('bad-subscribe-url');
      expect(trap.requests).toEqual([]);
      expect(signer.confirmRequests).toEqual([]);
      expect(await counts()).toEqual(before);
    });

    it('acknowledges an UnsubscribeConfirmation without visiting its SubscribeURL', async () => {
      const body = signer.unsubscribeConfirmation({
        topicArn: TOPIC,
      }) as unknown as Body;
      const res = await deliver(body).expect(200);
      expect(res.body).toEqual({
        messageId: body.MessageId,
        type: 'UnsubscribeConfirmation',
        outcome: 'acknowledged',
      });
      expect(signer.confirmRequests).toEqual([]);
      expect(signer.requests.filter((r) => !r.includes('.pem'))).toEqual([]);
    });
  });

  describe('CloudWatch alarms through signed SNS', () => {
    it('ALARM then OK triggers then resolves under AlarmName-MetricName', async () => {
      const name = uniqueName();
      const key = `${name}-CPUUtilization`;
      await deliver(
        notify(alarmMessage(name, 'ALARM', '2025-05-01T10:00:00.000+0000')),
      ).expect(202);
      const ok = await deliver(
        notify(alarmMessage(name, 'OK', '2025-05-01T10:05:00.000+0000'), {
          version: '2',
        }),
      ).expect(202);
      expect(ok.body.results).toEqual([
        { dedupKey: key, incidentId: expect.any(String), action: 'resolved' },
      ]);

      const events = await pd.waitFor((r) => r.length === 2);
      expect(
        events.map((e) => [e.body.event_action, e.body.dedup_key]),
      ).toEqual([
        ['trigger', key],
        ['resolve', key],
      ]);
      const incidents = await t.incidentsOf(key);
      expect(incidents).toHaveLength(1);
      expect(incidents[0]).toMatchObject({
        status: 'resolved',
        resolveReason: 'alert',
      });
      // PagerDuty has answered; the row is marked delivered right after.
      await eventually(
        async () =>
          (await t.deliveriesOf(key)).every((d) => d.state === 'delivered'),
        'delivered rows',
      );
      expect(
        (await t.deliveriesOf(key)).map((d) => [d.action, d.state]),
      ).toEqual([
        ['trigger', 'delivered'],
        ['resolve', 'delivered'],
      ]);
    });

    it('applies a repeated ALARM once: same MessageId ignored, same StateChangeTime deduplicated', async () => {
      const name = uniqueName();
      const key = `${name}-CPUUtilization`;
      const message = alarmMessage(
        name,
        'ALARM',
        '2025-05-01T10:00:00.000+0000',
      );
      const first = notify(message);
      await deliver(first).expect(202);

      const sameId = await deliver(first).expect(200);
      expect(sameId.body).toMatchObject({
        messageId: first.MessageId,
        outcome: 'duplicate',
      });
      const newId = await deliver(notify(message, { version: '2' })).expect(
        202,
      );
      expect(newId.body.results[0]).toMatchObject({
        dedupKey: key,
        action: 'deduplicated',
      });

      const incidents = await t.incidentsOf(key);
      expect(incidents).toHaveLength(1);
      expect(incidents[0]).toMatchObject({
        status: 'triggered',
        occurrences: 2,
      });
      await pd.waitFor((r) => r.length === 1);
      expect((await t.deliveriesOf(key)).map((d) => d.action)).toEqual([
        'trigger',
      ]);
    });

    it('ignores an ALARM older than the OK already applied: no reopened incident, no new trigger', async () => {
      const name = uniqueName();
      const key = `${name}-CPUUtilization`;
      await deliver(
        notify(alarmMessage(name, 'ALARM', '2025-05-01T10:00:00.000+0000')),
      ).expect(202);
      await deliver(
        notify(alarmMessage(name, 'OK', '2025-05-01T10:10:00.000+0000')),
      ).expect(202);
      const late = await deliver(
        notify(alarmMessage(name, 'ALARM', '2025-05-01T10:05:00.000+0000')),
      ).expect(202);
      expect(late.body.results[0]).toMatchObject({
        dedupKey: key,
        action: 'ignored',
      });

      const incidents = await t.incidentsOf(key);
      expect(incidents).toHaveLength(1);
      expect(incidents[0].status).toBe('resolved');
      // The outbox is what gets sent: two rows means no third event can ever go out.
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

    it('an OK that arrives first still outranks an older ALARM delivered after it', async () => {
      const name = uniqueName();
      const key = `${name}-CPUUtilization`;
      const ok = await deliver(
        notify(alarmMessage(name, 'OK', '2025-05-01T10:10:00.000+0000')),
      ).expect(202);
      expect(ok.body.results[0]).toMatchObject({
        dedupKey: key,
        action: 'ignored',
      });
      const late = await deliver(
        notify(alarmMessage(name, 'ALARM', '2025-05-01T10:05:00.000+0000')),
      ).expect(202);
      expect(late.body.results[0]).toMatchObject({
        dedupKey: key,
        action: 'ignored',
      });
      expect(await t.incidentsOf(key)).toHaveLength(0);
      const newer = await deliver(
        notify(alarmMessage(name, 'ALARM', '2025-05-01T10:20:00.000+0000')),
      ).expect(202);
      expect(newer.body.results[0]).toMatchObject({
        dedupKey: key,
        action: 'triggered',
      });
      await pd.waitFor((r) => r.some((e) => e.dedupKey === key));
    });

    it('maps a composite alarm (keyed on its name) and a metric-math alarm (keyed on the returned expression)', async () => {
      const composite = {
        AlarmName: 'ServiceAggregatedAlarm',
        AlarmDescription: '[CRITICAL] aggregated service health',
        AWSAccountId: '123456789012',
        NewStateValue: 'ALARM',
        NewStateReason: `${ALARM_ARN}ServerCpuTooHigh transitioned to ALARM at Friday 22 July, 2022 15:57:45 UTC`,
        StateChangeTime: '2022-07-22T15:57:45.394+0000',
        Region: 'EU (Frankfurt)',
        AlarmArn: `${ALARM_ARN}ServiceAggregatedAlarm`,
        OldStateValue: 'OK',
        AlarmRule:
          'ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)',
        TriggeringChildren: [
          { Arn: `${ALARM_ARN}ServerCpuTooHigh`, State: { Value: 'ALARM' } },
        ],
      };
      const metricMath = fixtureMessage(
        'cloudwatch/aws-lambda-go/cloudwatch-alarm-sns-payload-multiple-metrics.json',
      );

      const a = await deliver(notify(composite)).expect(202);
      const b = await deliver(notify(metricMath, { version: '2' })).expect(202);
      expect(a.body.results[0]).toMatchObject({
        dedupKey: 'ServiceAggregatedAlarm',
        action: 'triggered',
      });
      expect(b.body.results[0]).toMatchObject({
        dedupKey: 'EXAMPLE-e1',
        action: 'triggered',
      });

      expect(await t.incidentsOf('ServiceAggregatedAlarm')).toEqual([
        expect.objectContaining({
          severity: 'CRITICAL',
          metricName: null,
          status: 'triggered',
        }),
      ]);
      expect(await t.incidentsOf('EXAMPLE-e1')).toEqual([
        expect.objectContaining({
          metricName: 'e1',
          threshold: 0,
          status: 'triggered',
        }),
      ]);
      const events = await pd.waitFor((r) => r.length === 2);
      expect(events.map((e) => e.body.dedup_key).sort()).toEqual([
        'EXAMPLE-e1',
        'ServiceAggregatedAlarm',
      ]);
    });

    it('records INSUFFICIENT_DATA without opening an incident', async () => {
      const before = await counts();
      const res = await deliver(
        notify(
          fixtureMessage('cloudwatch/alerta/alarm-INSUFFICIENT_DATA.json'),
        ),
      ).expect(202);
      expect(res.body.results[0]).toMatchObject({
        action: 'ignored',
        incidentId: null,
      });
      const after = await counts();
      expect(after).toEqual({ ...before, snsMessages: before.snsMessages + 1 });
    });

    it('answers 202 "ignored" for a verified notification that is not an alarm', async () => {
      const before = await counts();
      const body = notify('deploy 1234 finished');
      const res = await deliver(body).expect(202);
      expect(res.body).toMatchObject({
        messageId: body.MessageId,
        outcome: 'ignored',
      });
      expect(res.body.reason).toContain('not a CloudWatch alarm');
      expect(await counts()).toEqual({
        ...before,
        snsMessages: before.snsMessages + 1,
      });
      expect(pd.requests).toEqual([]);
    });
  });
});

describe('sns notifier (e2e)', () => {
  const SNS_TOPIC = 'arn:aws:sns:eu-central-1:123456789012:oncall-transitions';
  const savedEnv = {
    id: process.env.AWS_ACCESS_KEY_ID,
    secret: process.env.AWS_SECRET_ACCESS_KEY,
  };
  let sns: FakeSnsEndpoint;
  let t: TestApp;

  beforeAll(async () => {
    // The SDK's default credential chain; the fake does not check signatures.
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    sns = await FakeSnsEndpoint.start();
    t = await createTestApp({
      env: {
        APP_ENV: 'production',
        NOTIFIERS: 'sns',
        SNS_TOPIC_ARN: SNS_TOPIC,
        AWS_ENDPOINT_URL: sns.url,
        // the reconciler would otherwise ask this endpoint about CloudWatch alarms
        RECONCILE_CLOUDWATCH: 'false',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await sns?.stop();
    process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
    process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
    if (savedEnv.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (savedEnv.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  });
  beforeEach(() => sns.reset());

  it('publishes trigger, acknowledge and resolve with the documented subject, message and attributes', async () => {
    const alarmName = uniqueName('GatewayErrors');
    const key = `${alarmName}-ErrorRate`;
    const res = await t.api
      .post('/v1/alerts')
      .send({
        severity: 'error',
        alarmName,
        metricName: 'ErrorRate',
        threshold: 5,
        currentValue: 9,
        description: 'too many 5xx',
      })
      .expect(202);
    const incidentId = res.body.results[0].incidentId as string;
    await eventually(() => sns.publishes.length === 1, 'the trigger publish');
    await t.api.post(`/v1/incidents/${key}/acknowledge`).expect(200);
    await eventually(
      () => sns.publishes.length === 2,
      'the acknowledge publish',
    );
    await t.api.post(`/v1/incidents/${key}/resolve`).expect(200);
    await eventually(() => sns.publishes.length === 3, 'the resolve publish');
    const repo = t.dataSource.getRepository(Delivery);
    await eventually(
      async () =>
        (await repo.countBy({ dedupKey: key, state: 'delivered' })) === 3,
      'three delivered rows',
    );

    expect(sns.publishes.map((p) => [p.topicArn, p.subject])).toEqual([
      [SNS_TOPIC, `[TRIGGER] PRODUCTION ${alarmName}`],
      [SNS_TOPIC, `[ACKNOWLEDGE] PRODUCTION ${alarmName}`],
      [SNS_TOPIC, `[RESOLVE] PRODUCTION ${alarmName}`],
    ]);
    for (const [i, action] of ['trigger', 'acknowledge', 'resolve'].entries()) {
      const publish = sns.publishes[i];
      expect(publish.messageAttributes).toEqual({
        severity: { dataType: 'String', stringValue: 'ERROR' },
        environment: { dataType: 'String', stringValue: 'production' },
        event_action: { dataType: 'String', stringValue: action },
      });
      expect(JSON.parse(publish.message)).toMatchObject({
        event_action: action,
        dedupKey: key,
        incidentId,
        alarmName,
        metricName: 'ErrorRate',
        severity: 'ERROR',
        environment: 'production',
        threshold: 5,
        currentValue: 9,
        description: 'too many 5xx',
      });
    }
    const deliveries = await t.dataSource
      .getRepository(Delivery)
      .find({ where: { dedupKey: key }, order: { id: 'ASC' } });
    expect(deliveries.map((d) => [d.notifier, d.action, d.state])).toEqual([
      ['sns', 'trigger', 'delivered'],
      ['sns', 'acknowledge', 'delivered'],
      ['sns', 'resolve', 'delivered'],
    ]);
  });

  it('makes one request per attempt: the dispatcher, not the SDK, retries a failed publish', async () => {
    sns.failNext(1, { status: 500 });
    const alarmName = uniqueName('GatewayLatency');
    await t.api
      .post('/v1/alerts')
      .send({ severity: 'warning', alarmName })
      .expect(202);
    await eventually(
      () => sns.publishes.length === 1,
      'the publish after the retry',
    );
    const repo = t.dataSource.getRepository(Delivery);
    await eventually(
      async () =>
        (await repo.countBy({ dedupKey: alarmName, state: 'delivered' })) === 1,
      'the delivered row',
    );

    expect(sns.requestCount).toBe(2);
    const [delivery] = await t.dataSource
      .getRepository(Delivery)
      .findBy({ dedupKey: alarmName });
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 2 });
  });
});
