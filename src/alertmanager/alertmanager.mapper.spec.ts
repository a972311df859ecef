import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AlertmanagerMappingError,
  mapAlertmanagerWebhook,
  severityOf,
} from './alertmanager.mapper.js';

function fixture(name: string): Record<string, any> {
  return JSON.parse(
    readFileSync(
      new URL(`../../test/fixtures/alertmanager/${name}`, import.meta.url),
      'utf8',
    ),
  );
}

const defaults = { environment: 'production' };

function webhookWith(alert: Record<string, unknown>, extra = {}) {
  const body = fixture('webhook-firing.json');
  body.alerts = [{ ...body.alerts[0], ...alert }];
  return { ...body, ...extra };
}

describe(mapAlertmanagerWebhook.name, () => {
  it('maps the firing fixture', () => {
    const sut = mapAlertmanagerWebhook(
      fixture('webhook-firing.json'),
      defaults,
    );

    expect(sut).toEqual([
      {
        alert: {
          severity: 'CRITICAL',
          alarmName: 'InstanceDown',
          description:
            'Instance localhost:8081 down — localhost:8081 has been down for more than 1 minute',
          status: 'firing',
          environment: 'production',
          dedupKey: 'alertmanager-f404ecabc8dd5cd7',
          timestamp: '2026-08-20T08:24:38.326Z',
          links: [
            {
              href: 'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1',
              text: 'Prometheus',
            },
          ],
          customDetails: {
            labels: {
              alertname: 'InstanceDown',
              instance: 'localhost:8081',
              job: 'node',
              severity: 'critical',
            },
            annotations: {
              description:
                'localhost:8081 has been down for more than 1 minute',
              summary: 'Instance localhost:8081 down',
            },
            generatorURL:
              'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1',
            startsAt: '2026-08-20T08:24:38.326Z',
          },
        },
        meta: {
          source: 'alertmanager',
          transitionAt: new Date('2026-08-20T08:24:38.326Z'),
          at: 'alerts[0]',
          fields: expect.objectContaining({ environment: 'environment' }),
        },
      },
    ]);
  });

  it('leaves out the Go zero endsAt of a firing alert', () => {
    const [sut] = mapAlertmanagerWebhook(
      fixture('webhook-firing.json'),
      defaults,
    );

    expect(sut.alert.customDetails).not.toHaveProperty('endsAt');
  });

  it('maps the resolved fixture to the same dedupKey, at endsAt', () => {
    const [firing] = mapAlertmanagerWebhook(
      fixture('webhook-firing.json'),
      defaults,
    );
    const [sut] = mapAlertmanagerWebhook(
      fixture('webhook-resolved.json'),
      defaults,
    );

    expect(sut.alert.status).toBe('resolved');
    expect(sut.alert.dedupKey).toBe(firing.alert.dedupKey);
    expect(sut.alert.customDetails).toMatchObject({
      startsAt: '2026-08-20T08:24:38.326Z',
      endsAt: '2026-08-20T08:31:08.113Z',
    });
    expect(sut.meta).toEqual({
      source: 'alertmanager',
      transitionAt: new Date('2026-08-20T08:31:08.113Z'),
      at: 'alerts[0]',
      fields: expect.objectContaining({ transitionAt: 'endsAt' }),
    });
  });

  it('maps every alert of a group, in order', () => {
    const body = fixture('webhook-firing.json');
    body.alerts = [
      body.alerts[0],
      {
        ...body.alerts[0],
        fingerprint: 'aaaaaaaaaaaaaaaa',
        labels: { ...body.alerts[0].labels, instance: 'localhost:8082' },
      },
    ];

    const sut = mapAlertmanagerWebhook(body, defaults);

    expect(sut.map((item) => item.alert.dedupKey)).toEqual([
      'alertmanager-f404ecabc8dd5cd7',
      'alertmanager-aaaaaaaaaaaaaaaa',
    ]);
  });

  it('returns nothing for an empty group', () => {
    expect(
      mapAlertmanagerWebhook(webhookWith({}, { alerts: [] }), defaults),
    ).toEqual([]);
  });

  describe('dedupKey without a fingerprint', () => {
    it('hashes the labels, whatever their order', () => {
      const a = mapAlertmanagerWebhook(
        webhookWith({
          fingerprint: undefined,
          labels: { alertname: 'A', x: '1', y: '2' },
        }),
        defaults,
      );
      const b = mapAlertmanagerWebhook(
        webhookWith({
          fingerprint: undefined,
          labels: { y: '2', x: '1', alertname: 'A' },
        }),
        defaults,
      );
      const c = mapAlertmanagerWebhook(
        webhookWith({
          fingerprint: undefined,
          labels: { alertname: 'A', x: '1', y: '3' },
        }),
        defaults,
      );

      expect(a[0].alert.dedupKey).toMatch(/^alertmanager-[0-9a-f]{16}$/);
      expect(b[0].alert.dedupKey).toBe(a[0].alert.dedupKey);
      expect(c[0].alert.dedupKey).not.toBe(a[0].alert.dedupKey);
    });
  });

  describe('fields', () => {
    it('falls back to the groupKey without an alertname', () => {
      const [sut] = mapAlertmanagerWebhook(
        webhookWith({ labels: { severity: 'info' } }),
        defaults,
      );

      expect(sut.alert.alarmName).toBe('{}:{alertname="InstanceDown"}');
    });

    it('takes the environment from env, then environment, then the default', () => {
      const env = (labels: Record<string, string>) =>
        mapAlertmanagerWebhook(
          webhookWith({ labels: { alertname: 'A', ...labels } }),
          defaults,
        )[0].alert.environment;

      expect(env({ env: 'staging', environment: 'dev' })).toBe('staging');
      expect(env({ environment: 'dev' })).toBe('dev');
      expect(env({})).toBe('production');
    });

    it.each([
      [{ summary: 'S', description: 'D' }, 'S — D'],
      [{ summary: 'S' }, 'S'],
      [{ description: 'D' }, 'D'],
      [{ summary: 'same', description: 'same' }, 'same'],
    ])('describes %j as %j', (annotations, expected) => {
      const [sut] = mapAlertmanagerWebhook(
        webhookWith({ annotations }),
        defaults,
      );

      expect(sut.alert.description).toBe(expected);
    });

    it('leaves out description, links and optional details when absent', () => {
      const [sut] = mapAlertmanagerWebhook(
        webhookWith({
          annotations: undefined,
          generatorURL: '',
          startsAt: undefined,
          endsAt: undefined,
        }),
        defaults,
      );

      expect(sut.alert).not.toHaveProperty('description');
      expect(sut.alert).not.toHaveProperty('links');
      expect(sut.alert).not.toHaveProperty('timestamp');
      expect(sut.alert.customDetails).toEqual({
        labels: expect.any(Object),
        annotations: {},
      });
      expect(sut.meta).toEqual({
        source: 'alertmanager',
        at: 'alerts[0]',
        fields: expect.any(Object),
      });
    });

    it('takes the group status when an alert has none', () => {
      const [sut] = mapAlertmanagerWebhook(
        webhookWith({ status: undefined }, { status: 'resolved' }),
        defaults,
      );

      expect(sut.alert.status).toBe('resolved');
    });

    it('keeps a __proto__ label as data', () => {
      const body = JSON.parse(
        JSON.stringify(webhookWith({})).replace(
          '"job":"node"',
          '"job":"node","__proto__":"x"',
        ),
      );

      const [sut] = mapAlertmanagerWebhook(body, defaults);

      const labels = sut.alert.customDetails?.labels as object;
      expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
      expect(Object.keys(labels)).toContain('__proto__');
    });
  });

  describe('validation', () => {
    it.each([
      ['a non-object body', 'nope', /^body/],
      [
        'version 3',
        { ...fixture('webhook-firing.json'), version: '3' },
        /version.*"3"/,
      ],
      [
        'a numeric version',
        { ...fixture('webhook-firing.json'), version: 4 },
        /version/,
      ],
      [
        'no alerts array',
        { version: '4', alerts: {} },
        /^alerts: must be an array/,
      ],
      [
        'an alert that is not an object',
        { version: '4', alerts: [1] },
        /^alerts\[0\]: must be an object/,
      ],
      [
        'missing labels',
        webhookWith({ labels: undefined }),
        /alerts\[0\]\.labels: missing/,
      ],
      [
        'a non-string label',
        webhookWith({ labels: { alertname: 'A', n: 1 } }),
        /alerts\[0\]\.labels\.n: must be a string/,
      ],
      [
        'an unknown status',
        webhookWith({ status: 'pending' }),
        /alerts\[0\]\.status/,
      ],
      [
        'a bad startsAt',
        webhookWith({ startsAt: 'yesterday' }),
        /alerts\[0\]\.startsAt/,
      ],
      [
        'no alertname nor groupKey',
        webhookWith({ labels: { severity: 'info' } }, { groupKey: undefined }),
        /alerts\[0\]\.labels\.alertname/,
      ],
    ])('rejects %s, naming the problem', (_name, body, message) => {
      let error: unknown;
      try {
        mapAlertmanagerWebhook(body, defaults);
      } catch (e) {
        error = e;
      }

      expect(error).toBeInstanceOf(AlertmanagerMappingError);
      expect((error as AlertmanagerMappingError).code).toBe(
        'ALERTMANAGER_PAYLOAD_INVALID',
      );
      expect((error as Error).message).toMatch(message);
    });
  });
});

describe(severityOf.name, () => {
  it.each([
    [['critical', 'crit', 'page', 'p1', 'CRITICAL', ' Page '], 'CRITICAL'],
    [['error', 'err', 'high', 'major', 'p2'], 'ERROR'],
    [['warning', 'warn', 'medium', 'minor', 'p3'], 'WARNING'],
    [['info', 'informational', 'low', 'none', 'p4', 'p5'], 'INFO'],
    [['', 'bogus', 'constructor', '__proto__'], 'WARNING'],
  ])('maps %j to %s', (labels, severity) => {
    for (const label of labels) expect(severityOf(label)).toBe(severity);
  });

  it('treats a missing label as WARNING', () => {
    expect(severityOf(undefined)).toBe('WARNING');
  });
});
