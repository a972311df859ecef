import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type {
  IncidentSnapshot,
  NotificationEvent,
} from '../notifier/notifier.port.js';
import { NotifierError } from '../notifier/notifier.port.js';
import {
  buildPagerDutyEvent,
  CUSTOM_DETAILS_REMOVED,
  PAGERDUTY_EVENT_MAX_BYTES,
  type PagerDutyEventOptions,
  type PagerDutyTriggerEvent,
  type PagerDutyNotification,
} from './pagerduty-event.builder.js';

const golden = JSON.parse(
  readFileSync(
    new URL(
      '../../test/fixtures/pagerduty/golden-high-failure-rate.json',
      import.meta.url,
    ),
    'utf8',
  ),
) as { settings: Record<string, string>; event: PagerDutyTriggerEvent };

const ROUTING_KEY = golden.settings.PAGERDUTY_ROUTING_KEY;

const goldenOptions: PagerDutyEventOptions = {
  awsRegion: golden.settings.AWS_REGION,
  cloudwatchDashboardName: golden.settings.CLOUDWATCH_DASHBOARD_NAME,
  appDashboardUrl: golden.settings.APP_DASHBOARD_URL,
  appDashboardName: golden.settings.APP_DASHBOARD_NAME,
  client: golden.settings.PAGERDUTY_CLIENT,
  clientUrl: golden.settings.PAGERDUTY_CLIENT_URL,
  defaultComponent: golden.settings.ALERT_COMPONENT,
  defaultGroup: golden.settings.ALERT_GROUP,
};

function highFailureRateIncident(
  overrides: Partial<IncidentSnapshot> = {},
): IncidentSnapshot {
  return {
    id: '6f1c1a8e-0000-4000-8000-000000000001',
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
    timestamp: '2026-03-01T10:00:00.000Z',
    occurrences: 1,
    ...overrides,
  };
}

function notification(
  incident: IncidentSnapshot,
  action: NotificationEvent['action'] = 'trigger',
): PagerDutyNotification {
  return {
    deliveryId: 'delivery-1',
    action,
    incident,
    routingKey: ROUTING_KEY,
    createdAt: new Date('2026-03-01T10:00:00.000Z'),
  };
}

function trigger(
  incident: IncidentSnapshot,
  opts: PagerDutyEventOptions = goldenOptions,
): PagerDutyTriggerEvent {
  return buildPagerDutyEvent(
    notification(incident),
    opts,
  ) as PagerDutyTriggerEvent;
}

describe(buildPagerDutyEvent.name, () => {
  describe('golden fixture', () => {
    it('reproduces the high-failure-rate event exactly, key order included', () => {
      const sut = trigger(highFailureRateIncident());

      expect(sut.payload.timestamp).toBe('2026-03-01T10:00:00.000Z');
      // Only the timestamp may differ; overwriting in place keeps key order comparable.
      sut.payload.timestamp = golden.event.payload.timestamp;
      expect(sut).toEqual(golden.event);
      expect(JSON.stringify(sut)).toBe(JSON.stringify(golden.event));
    });
  });

  describe('payload', () => {
    it.each([
      ['CRITICAL', '🚨', 'critical'],
      ['ERROR', '❗', 'error'],
      ['WARNING', '⚠️', 'warning'],
      ['INFO', 'ℹ️', 'info'],
    ] as const)('maps %s to icon %s and severity %s', (severity, icon, pd) => {
      const sut = trigger(
        highFailureRateIncident({ severity, environment: 'staging' }),
      );

      expect(sut.payload.summary).toBe(
        `${icon} [STAGING] production-hybrid-routing-high-failure-rate: Success rate has fallen below 95%. Current: 85%`,
      );
      expect(sut.payload.severity).toBe(pd);
      expect(sut.payload.source).toBe('staging-hybrid-routing');
    });

    it('leaves out ": <description>" when the incident has none', () => {
      const sut = trigger(highFailureRateIncident({ description: null }));

      expect(sut.payload.summary).toBe(
        '🚨 [PRODUCTION] production-hybrid-routing-high-failure-rate',
      );
      expect(sut.payload.custom_details).not.toHaveProperty('description');
    });

    it('prefers the incident source, component, group and class over the defaults', () => {
      const sut = trigger(
        highFailureRateIncident({
          source: 'my-source',
          component: 'router',
          group: 'edge',
          class: 'latency',
        }),
      );

      expect(sut.payload).toMatchObject({
        source: 'my-source',
        component: 'router',
        group: 'edge',
        class: 'latency',
      });
    });

    it('derives source from the overriding component', () => {
      const sut = trigger(highFailureRateIncident({ component: 'router' }));

      expect(sut.payload.source).toBe('production-router');
    });

    it('omits class without one on the incident or a defaultClass', () => {
      const sut = trigger(highFailureRateIncident({ class: null }));

      expect(sut.payload).not.toHaveProperty('class');
      expect(Object.keys(sut.payload)).toEqual([
        'summary',
        'source',
        'severity',
        'timestamp',
        'component',
        'group',
        'custom_details',
      ]);
    });

    it('uses defaultClass when the incident has none', () => {
      const sut = trigger(highFailureRateIncident({ class: null }), {
        ...goldenOptions,
        defaultClass: 'alert',
      });

      expect(sut.payload.class).toBe('alert');
    });

    it('normalises the timestamp to ISO 8601 UTC', () => {
      const sut = trigger(
        highFailureRateIncident({ timestamp: '2026-03-01T12:00:00+02:00' }),
      );

      expect(sut.payload.timestamp).toBe('2026-03-01T10:00:00.000Z');
    });
  });

  describe('custom_details', () => {
    it('appends the alert customDetails after the incident fields', () => {
      const sut = trigger(
        highFailureRateIncident({
          customDetails: { region: 'eu-central-1', nested: { a: 1 } },
        }),
      );

      expect(Object.keys(sut.payload.custom_details)).toEqual([
        'alarmName',
        'metricName',
        'threshold',
        'currentValue',
        'environment',
        'description',
        'recommendations',
        'region',
        'nested',
      ]);
      expect(sut.payload.custom_details.nested).toEqual({ a: 1 });
    });

    it('keeps the incident fields when customDetails repeats their names', () => {
      const sut = trigger(
        highFailureRateIncident({
          customDetails: { alarmName: 'spoofed', extra: true },
        }),
      );

      expect(sut.payload.custom_details.alarmName).toBe(
        'production-hybrid-routing-high-failure-rate',
      );
      expect(sut.payload.custom_details.extra).toBe(true);
    });

    it('leaves out absent metric values and empty recommendations', () => {
      const sut = trigger(
        highFailureRateIncident({
          metricName: null,
          threshold: null,
          currentValue: null,
          recommendations: [],
        }),
      );

      expect(Object.keys(sut.payload.custom_details)).toEqual([
        'alarmName',
        'environment',
        'description',
      ]);
    });

    it('keeps zero values', () => {
      const sut = trigger(
        highFailureRateIncident({ threshold: 0, currentValue: 0 }),
      );

      expect(sut.payload.custom_details).toMatchObject({
        threshold: 0,
        currentValue: 0,
      });
    });

    it('keeps a __proto__ key from parsed JSON as plain data', () => {
      const customDetails = JSON.parse('{"__proto__":{"polluted":true}}');
      const sut = trigger(highFailureRateIncident({ customDetails }));

      expect(Object.getPrototypeOf(sut.payload.custom_details)).toBe(
        Object.prototype,
      );
      expect(JSON.stringify(sut.payload.custom_details)).toContain(
        '"__proto__":{"polluted":true}',
      );
    });
  });

  describe('summary truncation', () => {
    it('keeps a summary of exactly 1024 code points', () => {
      const prefix = '🚨 [PRODUCTION] a: ';
      const description = 'x'.repeat(1024 - Array.from(prefix).length);
      const sut = trigger(
        highFailureRateIncident({ alarmName: 'a', description }),
      );

      expect(Array.from(sut.payload.summary)).toHaveLength(1024);
      expect(sut.payload.summary.endsWith('x')).toBe(true);
    });

    it('cuts to 1023 code points plus an ellipsis', () => {
      const sut = trigger(
        highFailureRateIncident({ description: 'y'.repeat(5000) }),
      );

      const codePoints = Array.from(sut.payload.summary);
      expect(codePoints).toHaveLength(1024);
      expect(codePoints[1023]).toBe('…');
      expect(codePoints[1022]).toBe('y');
    });

    it('counts astral characters as one and never splits a surrogate pair', () => {
      // '😀' is two UTF-16 units; 1024 of them would be 2048 units but 1024 characters.
      const sut = trigger(
        highFailureRateIncident({
          alarmName: 'a',
          description: '😀'.repeat(2000),
        }),
      );

      const codePoints = Array.from(sut.payload.summary);
      expect(codePoints).toHaveLength(1024);
      expect(codePoints[1023]).toBe('…');
      expect(codePoints[1022]).toBe('😀');
      expect(sut.payload.summary.length).toBeGreaterThan(1024);
      expect(sut.payload.summary).not.toMatch(
        /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/,
      );
    });

    it('does not count an astral summary under the limit as too long', () => {
      const prefix = '🚨 [PRODUCTION] a: ';
      const description = '😀'.repeat(1024 - Array.from(prefix).length);
      const sut = trigger(
        highFailureRateIncident({ alarmName: 'a', description }),
      );

      expect(sut.payload.summary).toBe(`${prefix}${description}`);
    });
  });

  describe('size limit', () => {
    it('replaces custom_details when the event exceeds 512 000 bytes', () => {
      const sut = trigger(
        highFailureRateIncident({
          customDetails: { blob: 'z'.repeat(PAGERDUTY_EVENT_MAX_BYTES) },
        }),
      );

      expect(sut.payload.custom_details).toEqual(CUSTOM_DETAILS_REMOVED);
      expect(Object.keys(sut.payload)).toEqual(
        Object.keys(golden.event.payload),
      );
      expect(sut.payload.summary).toBe(golden.event.payload.summary);
      expect(sut.links).toEqual(golden.event.links);
      expect(Buffer.byteLength(JSON.stringify(sut))).toBeLessThan(
        PAGERDUTY_EVENT_MAX_BYTES,
      );
    });

    it('measures UTF-8 bytes, not characters', () => {
      // 200 000 three-byte characters: 600 000 bytes, but only 200 000 UTF-16 units.
      const sut = trigger(
        highFailureRateIncident({
          customDetails: { blob: '€'.repeat(200_000) },
        }),
      );

      expect(sut.payload.custom_details).toEqual(CUSTOM_DETAILS_REMOVED);
    });

    it('keeps custom_details of an event just under the limit', () => {
      const base = trigger(
        highFailureRateIncident({ customDetails: { blob: '' } }),
      );
      const room =
        PAGERDUTY_EVENT_MAX_BYTES - Buffer.byteLength(JSON.stringify(base));
      const sut = trigger(
        highFailureRateIncident({ customDetails: { blob: 'z'.repeat(room) } }),
      );

      expect(Buffer.byteLength(JSON.stringify(sut))).toBe(
        PAGERDUTY_EVENT_MAX_BYTES,
      );
      expect(sut.payload.custom_details.blob).toHaveLength(room);
    });
  });

  describe('dedup_key', () => {
    it('keeps a key of 255 characters', () => {
      const dedupKey = 'k'.repeat(255);
      const sut = trigger(highFailureRateIncident({ dedupKey }));

      expect(sut.dedup_key).toBe(dedupKey);
    });

    it('replaces a key over 255 characters by its SHA-256 hex', () => {
      const dedupKey = 'k'.repeat(256);
      const sut = trigger(highFailureRateIncident({ dedupKey }));

      expect(sut.dedup_key).toBe(
        createHash('sha256').update(dedupKey).digest('hex'),
      );
      expect(sut.dedup_key).toMatch(/^[0-9a-f]{64}$/);
    });

    it('hashes the same way for acknowledge and resolve', () => {
      const incident = highFailureRateIncident({ dedupKey: 'k'.repeat(300) });
      const triggered = buildPagerDutyEvent(
        notification(incident),
        goldenOptions,
      );
      const resolved = buildPagerDutyEvent(
        notification(incident, 'resolve'),
        goldenOptions,
      );

      expect(resolved.dedup_key).toBe(triggered.dedup_key);
    });
  });

  describe('links and client', () => {
    it('adds the alert links after the dashboards', () => {
      const sut = trigger(
        highFailureRateIncident({
          links: [
            { href: 'https://runbooks.example/hfr', text: 'Runbook' },
            { href: 'https://grafana.example/d/1' },
          ],
        }),
      );

      expect(sut.links).toEqual([
        ...golden.event.links,
        { href: 'https://runbooks.example/hfr', text: 'Runbook' },
        { href: 'https://grafana.example/d/1' },
      ]);
    });

    it('leaves out the app dashboard and client_url when unset', () => {
      const sut = trigger(highFailureRateIncident(), {
        ...goldenOptions,
        appDashboardUrl: undefined,
        clientUrl: '',
        awsRegion: 'us-east-1',
      });

      expect(sut.links).toEqual([
        {
          href: 'https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=HybridRoutingMonitoring',
          text: 'CloudWatch Dashboard',
        },
      ]);
      expect(sut).not.toHaveProperty('client_url');
      expect(sut.client).toBe(goldenOptions.client);
    });
  });

  describe('acknowledge and resolve', () => {
    it.each(['acknowledge', 'resolve'] as const)(
      'sends only routing_key, dedup_key and event_action for %s',
      (action) => {
        const sut = buildPagerDutyEvent(
          notification(highFailureRateIncident(), action),
          goldenOptions,
        );

        expect(JSON.stringify(sut)).toBe(
          JSON.stringify({
            routing_key: ROUTING_KEY,
            event_action: action,
            dedup_key:
              'production-hybrid-routing-high-failure-rate-SupportModeSuccessRate',
          }),
        );
      },
    );
  });

  it('refuses an event without a routing key, as final', () => {
    const event = {
      ...notification(highFailureRateIncident()),
      routingKey: null,
    };

    expect(() => buildPagerDutyEvent(event, goldenOptions)).toThrow(
      expect.objectContaining({
        name: NotifierError.name,
        retryable: false,
        message: 'no PagerDuty routing key configured',
      }),
    );
  });
});
