import { readFileSync } from 'node:fs';
import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  it,
  vi,
} from 'vitest';
import {
  NotifierError,
  type IncidentSnapshot,
  type NotificationEvent,
} from '../notifier/notifier.port.js';
import {
  FakePagerDuty,
  startFakePagerDuty,
} from '../testing/fake-pagerduty.js';
import type { PagerDutyEventOptions } from './pagerduty-event.builder.js';
import { PagerDutyClient } from './pagerduty.client.js';
import { PagerDutyNotifier } from './pagerduty.notifier.js';

const golden = JSON.parse(
  readFileSync(
    new URL(
      '../../test/fixtures/pagerduty/golden-high-failure-rate.json',
      import.meta.url,
    ),
    'utf8',
  ),
);

const KEY = golden.settings.PAGERDUTY_ROUTING_KEY as string;
const OTHER_KEY = 'fedcba9876543210fedcba9876543210';

const eventOptions: PagerDutyEventOptions = {
  awsRegion: 'eu-central-1',
  cloudwatchDashboardName: 'HybridRoutingMonitoring',
  appDashboardUrl: 'https://app.matbakh.app/admin/bedrock-activation',
  appDashboardName: 'Hybrid Routing Dashboard',
  client: 'matbakh-bedrock-support-manager',
  clientUrl: 'https://app.matbakh.app/admin/bedrock-activation',
  defaultComponent: 'hybrid-routing',
  defaultGroup: 'ai-orchestrator',
};

const incident: IncidentSnapshot = {
  id: 'incident-1',
  dedupKey:
    'production-hybrid-routing-high-failure-rate-SupportModeSuccessRate',
  status: 'triggered',
  severity: 'CRITICAL',
  alarmName: 'production-hybrid-routing-high-failure-rate',
  metricName: 'SupportModeSuccessRate',
  threshold: 95,
  currentValue: 85,
  environment: 'production',
  description: 'Success rate has fallen below 95%. Current: 85%',
  recommendations: [
    'Check hybrid routing health status',
    'Review recent deployment changes',
    'Verify MCP and direct Bedrock connectivity',
    'Check circuit breaker status',
    'Review error logs for patterns',
  ],
  source: null,
  component: null,
  group: null,
  class: 'performance',
  links: [],
  customDetails: {},
  timestamp: '2025-01-14T14:30:00.000Z',
  occurrences: 1,
};

/** `routingKey` stands for the context the adapter kept when the incident triggered. */
function notification(
  overrides: Partial<NotificationEvent> & { routingKey?: string | null } = {},
): NotificationEvent {
  const { routingKey, ...rest } = overrides;
  const key = 'routingKey' in overrides ? routingKey : KEY;
  return {
    deliveryId: 'delivery-1',
    action: 'trigger',
    incident,
    context: key === null || key === undefined ? null : { routingKey: key },
    createdAt: new Date(),
    ...rest,
  };
}

function stubClient() {
  const send = vi.fn(async () => ({ status: 202 as const, body: {} }));
  return { client: { send } as unknown as PagerDutyClient, send };
}

describe(PagerDutyNotifier.name, () => {
  describe('against the fake PagerDuty', () => {
    let fake: FakePagerDuty;
    let sut: PagerDutyNotifier;

    beforeAll(async () => {
      fake = await startFakePagerDuty();
    });
    afterEach(() => fake.reset());
    afterAll(async () => {
      await fake.stop();
    });

    beforeAll(() => {
      sut = new PagerDutyNotifier({
        client: new PagerDutyClient({
          eventsUrl: fake.url,
        }),
        eventOptions,
        ratePerMinute: 120,
      });
    });

    it('is named pagerduty', () => {
      expect(sut.name).toBe('pagerduty');
    });

    it('delivers the golden trigger and returns what PagerDuty answered', async () => {
      const result = await sut.send(notification());

      expect(JSON.stringify(fake.received[0].body)).toBe(
        JSON.stringify(golden.event),
      );
      expect(result).toEqual({
        response: {
          status: 202,
          body: {
            status: 'success',
            message: 'Event processed',
            dedup_key: incident.dedupKey,
          },
        },
      });
    });

    it('delivers acknowledge and resolve under the same dedup_key', async () => {
      await sut.send(notification());
      await sut.send(notification({ action: 'acknowledge' }));
      await sut.send(notification({ action: 'resolve' }));

      expect(
        fake.eventsFor(incident.dedupKey).map((e) => e.body.event_action),
      ).toEqual(['trigger', 'acknowledge', 'resolve']);
    });

    it('passes a final 400 through', async () => {
      const error = await sut
        .send(notification({ routingKey: 'x'.repeat(31) }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(NotifierError);
      expect((error as NotifierError).retryable).toBe(false);
      expect(fake.received).toHaveLength(0);
    });
  });

  it.each([undefined, null, ''])(
    'fails finally without a routing key (%j), sending nothing',
    async (routingKey) => {
      const { client, send } = stubClient();
      const sut = new PagerDutyNotifier({
        client,
        eventOptions,
        ratePerMinute: 1,
      });

      await expect(
        sut.send(notification({ routingKey })),
      ).rejects.toMatchObject({
        name: 'NotifierError',
        retryable: false,
        message: 'no PagerDuty routing key configured',
      });
      expect(send).not.toHaveBeenCalled();
      // No token was spent on the refused event.
      await expect(sut.send(notification())).resolves.toBeDefined();
    },
  );

  it('limits each routing key to its own bucket and says when to retry', async () => {
    let now = 0;
    const { client, send } = stubClient();
    const sut = new PagerDutyNotifier({
      client,
      eventOptions,
      ratePerMinute: 2,
      now: () => now,
    });

    await sut.send(notification());
    await sut.send(notification());
    const limited = await sut.send(notification()).catch((e: unknown) => e);

    expect(limited).toBeInstanceOf(NotifierError);
    expect((limited as NotifierError).retryable).toBe(true);
    expect((limited as NotifierError).details).toEqual({
      retryAfterMs: 30_000,
      throttled: true,
    });
    expect((limited as NotifierError).message).not.toContain(KEY);

    await expect(
      sut.send(notification({ routingKey: OTHER_KEY })),
    ).resolves.toBeDefined();

    now += 30_000;
    await expect(sut.send(notification())).resolves.toBeDefined();
    expect(send).toHaveBeenCalledTimes(4);
  });

  it('does not limit with ratePerMinute 0', async () => {
    const { client, send } = stubClient();
    const sut = new PagerDutyNotifier({
      client,
      eventOptions,
      ratePerMinute: 0,
    });

    for (let i = 0; i < 500; i++) await sut.send(notification());

    expect(send).toHaveBeenCalledTimes(500);
  });

  it('reads eventOptions and ratePerMinute functions on every send', async () => {
    const { client, send } = stubClient();
    let options = eventOptions;
    let rate = 1;
    const sut = new PagerDutyNotifier({
      client,
      eventOptions: () => options,
      ratePerMinute: () => rate,
      now: () => 0,
    });

    await sut.send(notification());
    await expect(sut.send(notification())).rejects.toMatchObject({
      retryable: true,
    });
    rate = 0;
    options = { ...eventOptions, client: 'renamed' };
    await sut.send(notification());

    expect(send).toHaveBeenCalledTimes(2);
    expect(send.mock.calls[1]).toEqual([
      expect.objectContaining({ client: 'renamed' }),
    ]);
  });
});
