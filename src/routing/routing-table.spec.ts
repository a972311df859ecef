import { RoutingFileError, RoutingTable, routableOf } from './routing-table.js';

const KEY_A = 'a'.repeat(32);
const KEY_B = 'b'.repeat(32);
const defaults = { environment: 'production', component: 'api', group: 'g' };
const alert = (a: Record<string, unknown>, via = 'http') =>
  routableOf(
    { severity: 'critical', alarmName: 'x', ...a } as never,
    defaults,
    via,
  );

const FILE = `
pagerduty:
  keys:
    platform: \${PD_A}
    cost: \${PD_B}
routes:
  - name: prod-critical
    match: { environment: production, severity: critical }
    notify: [pagerduty:platform, webhook]
  - name: cost
    match: { class: cost, alarmName: { regex: ".*-cost-.*" } }
    notify: [pagerduty:cost]
    pageAfter: 5m
  - name: staging
    match: { environment: [staging, development] }
    notify: [log]
  - name: team
    match: { customDetails.team: payments, via: alertmanager }
    notify: [pagerduty:cost]
    continue: true
  - name: audit
    match: { customDetails.team: { regex: "pay.*" } }
    notify: [webhook]
default:
  notify: [pagerduty]
inhibit:
  - source: { severity: CRITICAL }
    target: { severity: [WARNING, INFO] }
    equal: [environment, component]
`;

const load = (
  text = FILE,
  env: Record<string, string> = { PD_A: KEY_A, PD_B: KEY_B },
) =>
  RoutingTable.parse(text, { env, notifiers: ['pagerduty', 'webhook', 'log'] });

describe('RoutingTable', () => {
  it('takes the first matching route, severity in any case, with its named key', () => {
    const m = load().match(alert({ severity: 'CRITICAL' }));
    expect(m?.route).toBe('prod-critical');
    expect(m?.notifiers).toEqual(['pagerduty:platform', 'webhook']);
    expect(m?.targets[0]).toEqual({
      notifier: 'pagerduty',
      keyName: 'platform',
      context: { routingKey: KEY_A },
    });
  });

  it('matches a whole-value regex, a list, and keeps pageAfter', () => {
    const t = load();
    const cost = t.match(
      alert({
        severity: 'warning',
        class: 'cost',
        alarmName: 'gpu-cost-daily',
      }),
    );
    expect(cost).toMatchObject({ route: 'cost', pageAfterMs: 300_000 });
    expect(
      t.match(
        alert({ severity: 'warning', class: 'cost', alarmName: 'gpu-daily' }),
      )?.route,
    ).toBe('default');
    // the regex is anchored: "pay.*" inside "repayments" is no match
    expect(
      t.match(
        alert({ severity: 'info', customDetails: { team: 'repayments' } }),
      )?.route,
    ).toBe('default');
    expect(t.match(alert({ environment: 'development' }))?.route).toBe(
      'staging',
    );
  });

  it('continue: true adds the next matching route; customDetails and via match', () => {
    const m = load().match(
      alert(
        { severity: 'info', customDetails: { team: 'payments' } },
        'alertmanager',
      ),
    );
    expect(m?.names).toEqual(['team', 'audit']);
    expect(m?.notifiers).toEqual(['pagerduty:cost', 'webhook']);
    // from http the `via` term fails: only the second route
    expect(
      load().match(
        alert({ severity: 'info', customDetails: { team: 'payments' } }),
      )?.names,
    ).toEqual(['audit']);
    // a non-string custom detail never matches
    expect(
      load().match(alert({ severity: 'info', customDetails: { team: 7 } }))
        ?.route,
    ).toBe('default');
  });

  it('sends what matches nothing to default; without a default, to every notifier (null)', () => {
    expect(load().match(alert({ severity: 'info' }))).toMatchObject({
      route: 'default',
      notifiers: ['pagerduty'],
      targets: [{ notifier: 'pagerduty' }],
    });
    const bare = load('routes: []');
    expect(bare.match(alert({}))).toBeNull();
  });

  it('names every bad rule by its path in one error', () => {
    const bad = `
pagerduty:
  keys:
    platform: \${MISSING}
    short: abc
routes:
  - name: a
    match: { severity: urgent, nope: x }
    notify: [pagerduty:ghost, sms]
  - name: a
    match: { alarmName: { regex: "(" } }
    notify: []
    pageAfter: soon
inhibit:
  - source: {}
    target: { severity: INFO }
    equal: [colour]
`;
    let error: RoutingFileError | undefined;
    try {
      load(bad, {});
    } catch (e) {
      error = e as RoutingFileError;
    }
    expect(error).toBeInstanceOf(RoutingFileError);
    const text = error!.problems.join('\n');
    for (const path of [
      'pagerduty.keys.platform: environment variable MISSING is not set',
      'pagerduty.keys.short: must be a 32-character',
      'routes[0].match.severity: must be one of',
      'routes[0].match.nope: unknown field',
      'routes[0].notify[0]: no key "ghost"',
      'routes[0].notify[1]: notifier "sms" is not enabled',
      'routes[1].name: "a" is used twice',
      'routes[1].match.alarmName.regex:',
      'routes[1].notify: must list at least one notifier',
      'routes[1].pageAfter: must be a duration',
      'inhibit[0].source: must name at least one field',
      'inhibit[0].equal[0]: unknown field "colour"',
    ])
      expect(text).toContain(path);
    expect(error!.message).toMatch(/^Invalid routing file:\n {2}- /);
  });

  it('reads JSON as well', () => {
    const t = RoutingTable.parse(
      JSON.stringify({
        routes: [{ name: 'j', match: { severity: ['info'] }, notify: ['log'] }],
      }),
      { env: {} },
    );
    expect(t.match(alert({ severity: 'INFO' }))?.route).toBe('j');
  });

  it('masks the keys in its view', () => {
    expect(JSON.stringify(load().view())).not.toContain(KEY_A);
    expect(load().view().pagerduty.keys).toEqual({
      platform: '****aaaa',
      cost: '****bbbb',
    });
  });
});
