import { SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  NotifierError,
  type IncidentSnapshot,
  type NotificationEvent,
} from '../notifier/notifier.port.js';
import { FakeSnsEndpoint } from '../testing/fake-sns-endpoint.js';
import { SnsNotifier, buildSubject, toNotifierError } from './sns.notifier.js';

const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:alerting-out';

function incident(overrides: Partial<IncidentSnapshot> = {}): IncidentSnapshot {
  return {
    id: '0b6c1d2e-0000-4000-8000-000000000001',
    dedupKey: 'HighFailureRate-FailureRate',
    status: 'triggered',
    severity: 'CRITICAL',
    alarmName: 'HighFailureRate',
    metricName: 'FailureRate',
    threshold: 95,
    currentValue: 85,
    environment: 'production',
    description: 'Success rate below threshold',
    recommendations: ['Check the provider'],
    source: null,
    component: 'hybrid-routing',
    group: 'ai-orchestrator',
    class: null,
    links: [],
    customDetails: { region: 'eu-central-1' },
    timestamp: '2026-11-27T06:00:00.000Z',
    occurrences: 1,
    ...overrides,
  };
}

function event(overrides: Partial<NotificationEvent> = {}): NotificationEvent {
  return {
    deliveryId: 'd-1',
    action: 'trigger',
    incident: incident(),
    context: { routingKey: 'R0123456789abcdef0123456789abcdef' },
    createdAt: new Date('2026-11-27T06:00:01.000Z'),
    ...overrides,
  };
}

describe(SnsNotifier.name, () => {
  let fake: FakeSnsEndpoint;
  let client: SNSClient;
  let sut: SnsNotifier;

  beforeAll(async () => {
    fake = await FakeSnsEndpoint.start();
    client = new SNSClient({
      region: 'eu-central-1',
      endpoint: fake.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      // the dispatcher owns retries; one attempt keeps each scripted failure visible
      maxAttempts: 1,
    });
    sut = new SnsNotifier({ topicArn: TOPIC, client });
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    client.destroy();
    await fake.stop();
  });

  it('gives up on an endpoint that never answers, retryably, after timeoutMs', async () => {
    const { createServer } = await import('node:http');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) =>
      silent.listen(0, '127.0.0.1', resolve),
    );
    const hungClient = new SNSClient({
      region: 'eu-central-1',
      endpoint: `http://127.0.0.1:${(silent.address() as { port: number }).port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const hung = new SnsNotifier({
      topicArn: TOPIC,
      client: hungClient,
      timeoutMs: 300,
    });
    const started = performance.now();
    try {
      const error = await hung.send(event()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotifierError);
      expect((error as NotifierError).retryable).toBe(true);
      expect((error as NotifierError).message).toBe(
        'SNS did not answer within 300 ms',
      );
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      hungClient.destroy();
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('is named sns', () => {
    expect(sut.name).toBe('sns');
  });

  it('publishes subject, JSON message and String attributes, without the routing key', async () => {
    const result = await sut.send(event());

    expect(fake.publishes).toHaveLength(1);
    const published = fake.publishes[0];
    expect(published.topicArn).toBe(TOPIC);
    expect(published.subject).toBe('[TRIGGER] PRODUCTION HighFailureRate');
    expect(published.messageAttributes).toEqual({
      severity: { dataType: 'String', stringValue: 'CRITICAL' },
      environment: { dataType: 'String', stringValue: 'production' },
      event_action: { dataType: 'String', stringValue: 'trigger' },
    });
    const message = JSON.parse(published.message);
    expect(message).toMatchObject({
      event_action: 'trigger',
      dedupKey: 'HighFailureRate-FailureRate',
      incidentId: '0b6c1d2e-0000-4000-8000-000000000001',
      status: 'triggered',
      severity: 'CRITICAL',
      alarmName: 'HighFailureRate',
      metricName: 'FailureRate',
      threshold: 95,
      currentValue: 85,
      environment: 'production',
      customDetails: { region: 'eu-central-1' },
      deliveryId: 'd-1',
      createdAt: '2026-11-27T06:00:01.000Z',
    });
    expect(Object.keys(message)[0]).toBe('event_action');
    expect(published.message).not.toContain('R0123456789abcdef');
    expect(published.message).not.toMatch(/routing_?key/i);
    expect(published.messageGroupId).toBeUndefined();
    expect(result).toEqual({
      response: {
        messageId: published.messageId,
        requestId: expect.any(String),
      },
    });
  });

  it('publishes resolve transitions with their action', async () => {
    await sut.send(
      event({
        action: 'resolve',
        incident: incident({ status: 'resolved', resolveReason: 'stale' }),
      }),
    );
    const published = fake.publishes[0];
    expect(published.subject).toBe('[RESOLVE] PRODUCTION HighFailureRate');
    expect(published.messageAttributes.event_action.stringValue).toBe(
      'resolve',
    );
    expect(JSON.parse(published.message)).toMatchObject({
      event_action: 'resolve',
      status: 'resolved',
      resolveReason: 'stale',
    });
  });

  it('groups by dedupKey and deduplicates by delivery id on a FIFO topic', async () => {
    const fifo = new SnsNotifier({ topicArn: `${TOPIC}.fifo`, client });
    await fifo.send(event());
    expect(fake.publishes[0].messageGroupId).toBe(
      'HighFailureRate-FailureRate',
    );
    expect(fake.publishes[0].messageDeduplicationId).toBe('d-1');
  });

  it('maps a 500 to a retryable NotifierError', async () => {
    fake.failNext(1, { status: 500 });
    const error = await sut.send(event()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotifierError);
    expect(error).toMatchObject({ retryable: true, details: { status: 500 } });
    expect(fake.publishes).toHaveLength(0);
  });

  it('maps throttling to a retryable NotifierError', async () => {
    fake.failNext(1, {
      status: 400,
      code: 'Throttled',
      message: 'Rate exceeded',
    });
    await expect(sut.send(event())).rejects.toMatchObject({ retryable: true });
  });

  it.each(['InvalidParameter', 'NotFound', 'AuthorizationError'])(
    'maps a 4xx %s to a final NotifierError',
    async (code) => {
      fake.failNext(1, {
        status: code === 'AuthorizationError' ? 403 : 400,
        code,
        message: 'nope',
      });
      const error = await sut.send(event()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotifierError);
      expect(error).toMatchObject({ retryable: false });
      expect((error as Error).message).toContain('nope');
    },
  );

  it('maps a refused connection to a retryable NotifierError', async () => {
    const closed = await FakeSnsEndpoint.start();
    await closed.stop();
    const offline = new SNSClient({
      region: 'eu-central-1',
      endpoint: closed.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const error = await new SnsNotifier({ topicArn: TOPIC, client: offline })
      .send(event())
      .catch((e: unknown) => e);
    offline.destroy();
    expect(error).toMatchObject({ name: 'NotifierError', retryable: true });
  });
});

describe(buildSubject.name, () => {
  it('keeps subjects under 100 characters, cut with an ellipsis', () => {
    const subject = buildSubject(
      event({ incident: incident({ alarmName: 'A'.repeat(300) }) }),
    );
    expect(Array.from(subject)).toHaveLength(99);
    expect(subject.endsWith('…')).toBe(true);
    expect(subject.startsWith('[TRIGGER] PRODUCTION AAA')).toBe(true);
  });

  it('drops line breaks and control characters', () => {
    const subject = buildSubject(
      event({
        action: 'acknowledge',
        incident: incident({ alarmName: 'disk\r\nfull\u0007\tnow' }),
      }),
    );
    expect(subject).toBe('[ACKNOWLEDGE] PRODUCTION disk full now');
  });

  it('never splits a surrogate pair', () => {
    const subject = buildSubject(
      event({ incident: incident({ alarmName: '🚨'.repeat(200) }) }),
    );
    expect(subject).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(Array.from(subject).length).toBeLessThanOrEqual(99);
  });
});

describe(toNotifierError.name, () => {
  it.each([
    [{ name: 'ThrottledException', $metadata: { httpStatusCode: 400 } }, true],
    [
      { name: 'KMSThrottlingException', $metadata: { httpStatusCode: 400 } },
      true,
    ],
    [{ name: 'Whatever', $metadata: { httpStatusCode: 503 } }, true],
    [{ name: 'Whatever', $metadata: { httpStatusCode: 429 } }, true],
    [{ name: 'TimeoutError' }, true],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
    [
      { name: 'InvalidParameterException', $metadata: { httpStatusCode: 400 } },
      false,
    ],
    [{ name: 'NotFoundException', $metadata: { httpStatusCode: 404 } }, false],
    [
      {
        name: 'AuthorizationErrorException',
        $metadata: { httpStatusCode: 403 },
      },
      false,
    ],
  ])('%o → retryable %s', (error, retryable) => {
    expect(toNotifierError(error).retryable).toBe(retryable);
  });
});
