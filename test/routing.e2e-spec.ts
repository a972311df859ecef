import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  pagerDutyEnv,
  ROUTING_KEY,
  type TestApp,
} from './support/test-app.js';
import { eventsOf, routingFile, sleep, TestClock } from './support/routing.js';
import { runCli } from '../src/cli/main.js';
import { Delivery } from '../src/notifier/delivery.entity.js';

const KEY_PLATFORM = 'p'.repeat(31) + '1';
const KEY_COST = 'c'.repeat(31) + '2';
const KEY_NEW = 'n'.repeat(31) + '3';

const FILE = `
pagerduty:
  keys:
    platform: \${PD_KEY_PLATFORM}
    cost: \${PD_KEY_COST}
routes:
  - name: prod-critical
    match: { environment: production, severity: CRITICAL }
    notify: [pagerduty:platform]
  - name: cost
    match: { class: cost, alarmName: { regex: ".*-cost-.*" } }
    notify: [pagerduty:cost]
    pageAfter: 5m
  - name: staging
    match: { environment: [staging, development] }
    notify: [log]
  - name: payments
    match: { customDetails.team: payments }
    notify: [pagerduty:cost]
    continue: true
  - name: payments-platform
    match: { severity: [ERROR, WARNING] }
    notify: [pagerduty:platform]
default:
  notify: [pagerduty]
inhibit:
  - source: { severity: CRITICAL }
    target: { severity: [WARNING, INFO] }
    equal: [environment, component]
`;

describe('Routing (e2e)', () => {
  const pd = new FakePagerDuty();
  const clock = new TestClock();
  let file: string;
  let t: TestApp;
  const fire = (alert: Record<string, unknown>) =>
    t.api
      .post('/v1/alerts')
      .send({ severity: 'critical', ...alert })
      .expect(202);
  const incident = async (key: string) =>
    (await t.api.get(`/v1/incidents/${key}`).expect(200)).body;
  const tick = () => sleep(400); // RECONCILE_INTERVAL is 100ms: several ticks

  beforeAll(async () => {
    await pd.start();
    file = routingFile(FILE);
    t = await createTestApp({
      clock,
      env: {
        ...pagerDutyEnv(pd),
        NOTIFIERS: 'pagerduty,log',
        ROUTING_FILE: file,
        PD_KEY_PLATFORM: KEY_PLATFORM,
        PD_KEY_COST: KEY_COST,
        PD_KEY_NEW: KEY_NEW,
        RECONCILE_INTERVAL: '100ms',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });
  beforeEach(() => pd.reset());

  it('pages a route with its named key; acknowledge and resolve reuse it after the file changed and reloaded', async () => {
    await fire({ alarmName: 'db-down', environment: 'production' });
    await pd.waitFor((r) => r.length === 1);
    expect(eventsOf(pd)).toEqual([`trigger ${KEY_PLATFORM}`]);
    expect((await incident('db-down')).route).toEqual({
      names: ['prod-critical'],
      notifiers: ['pagerduty:platform'],
      pageAfterUntil: null,
    });

    writeFileSync(file, FILE.replace('${PD_KEY_PLATFORM}', '${PD_KEY_NEW}'));
    const reloaded = await t.api.post('/v1/routing/reload').expect(200);
    expect(reloaded.body.pagerduty.keys.platform).toBe('****nnn3');
    await t.api.post('/v1/incidents/db-down/acknowledge').expect(200);
    await t.api.post('/v1/incidents/db-down/resolve').expect(200);
    await pd.waitFor((r) => r.length === 3);
    expect(eventsOf(pd)).toEqual([
      `trigger ${KEY_PLATFORM}`,
      `acknowledge ${KEY_PLATFORM}`,
      `resolve ${KEY_PLATFORM}`,
    ]);
    // a new incident takes the reloaded key
    await fire({ alarmName: 'db-down-2', environment: 'production' });
    await pd.waitFor((r) => r.length === 4);
    expect(eventsOf(pd, 'db-down-2')).toEqual([`trigger ${KEY_NEW}`]);
    await t.api.post('/v1/incidents/db-down-2/resolve').expect(200);
    await pd.waitFor((r) => r.length === 5);
    writeFileSync(file, FILE);
    await t.api.post('/v1/routing/reload').expect(200);
  });

  it('regex, list and customDetails matchers; continue: true pages two routes; no match takes default', async () => {
    await fire({
      alarmName: 'team-pay',
      severity: 'error',
      environment: 'production',
      customDetails: { team: 'payments' },
    });
    await fire({
      alarmName: 'plain',
      severity: 'info',
      environment: 'production',
      component: 'plain',
    });
    await pd.waitFor((r) => r.length === 3);
    expect(eventsOf(pd, 'team-pay')).toEqual([
      `trigger ${KEY_COST}`,
      `trigger ${KEY_PLATFORM}`,
    ]);
    expect(eventsOf(pd, 'plain')).toEqual([`trigger ${ROUTING_KEY}`]);
    await t.api.post('/v1/incidents/team-pay/resolve').expect(200);
    await pd.waitFor((r) => r.length === 5);
    expect(eventsOf(pd, 'team-pay')).toEqual([
      `trigger ${KEY_COST}`,
      `trigger ${KEY_PLATFORM}`,
      `resolve ${KEY_COST}`,
      `resolve ${KEY_PLATFORM}`,
    ]);
    expect((await incident('team-pay')).route.names).toEqual([
      'payments',
      'payments-platform',
    ]);
  });

  it('a route notifying only log opens the incident and never reaches PagerDuty', async () => {
    const [r] = (await fire({ alarmName: 'stg', environment: 'staging' })).body
      .results;
    expect(r.action).toBe('triggered');
    await sleep(300);
    const body = await incident('stg');
    expect(body.status).toBe('triggered');
    expect(body.route.notifiers).toEqual(['log']);
    const rows = await t.dataSource
      .getRepository(Delivery)
      .findBy({ dedupKey: 'stg' });
    expect(rows.map((d) => d.notifier)).toEqual(['log']);
    expect(pd.received).toHaveLength(0);
  });

  it('pageAfter: pages only when still open after the delay; resolved within it, never sent', async () => {
    // their own component: no open critical incident inhibits them
    await fire({
      alarmName: 'gpu-cost-daily',
      class: 'cost',
      severity: 'warning',
      component: 'gpu',
    });
    await fire({
      alarmName: 'gpu-cost-blip',
      class: 'cost',
      severity: 'warning',
      component: 'gpu',
    });
    const held = await incident('gpu-cost-daily');
    expect(held.suppressedBy).toMatchObject({ reason: 'pageAfter' });
    expect(held.timeline.map((e: { type: string }) => e.type)).toEqual([
      'triggered',
      'suppressed',
    ]);
    expect(held.deliveries).toEqual([]);
    await t.api.post('/v1/incidents/gpu-cost-blip/resolve').expect(200);
    await tick();
    expect(pd.received).toHaveLength(0);
    clock.advance(5 * 60_000 + 1);
    await pd.waitFor((r) => r.length === 1, 3_000);
    expect(eventsOf(pd)).toEqual([`trigger ${KEY_COST}`]);
    expect(pd.received[0].dedupKey).toBe('gpu-cost-daily');
    const released = await incident('gpu-cost-daily');
    expect(released.suppressedBy).toBeNull();
    expect(released.timeline.map((e: { type: string }) => e.type)).toEqual([
      'triggered',
      'suppressed',
      'released',
    ]);
    const blip = await incident('gpu-cost-blip');
    expect(blip.deliveries).toEqual([]);
    expect(blip.suppressedBy).toMatchObject({ reason: 'pageAfter' });
    await t.api.post('/v1/incidents/gpu-cost-daily/resolve').expect(200);
    await pd.waitFor((r) => r.length === 2);
    expect(eventsOf(pd)).toEqual([
      `trigger ${KEY_COST}`,
      `resolve ${KEY_COST}`,
    ]);
  });

  it('inhibition: same equal values are held until the source resolves; other values page', async () => {
    await fire({
      alarmName: 'core-down',
      environment: 'production',
      component: 'gateway',
    });
    await fire({
      alarmName: 'slow',
      severity: 'warning',
      environment: 'production',
      component: 'gateway',
    });
    await fire({
      alarmName: 'slow-elsewhere',
      severity: 'warning',
      environment: 'production',
      component: 'billing',
    });
    await pd.waitFor((r) => r.length === 2);
    const source = await incident('core-down');
    const held = await incident('slow');
    expect(held.suppressedBy).toEqual({
      reason: 'inhibit',
      incidentId: source.id,
      dedupKey: 'core-down',
    });
    expect(held.timeline[1]).toMatchObject({
      type: 'suppressed',
      detail: { reason: 'inhibit', dedupKey: 'core-down' },
    });
    expect(eventsOf(pd, 'slow-elsewhere')).toEqual([`trigger ${KEY_PLATFORM}`]);
    const list = await t.api
      .get('/v1/incidents?suppressed=true&status=triggered')
      .expect(200);
    expect(
      list.body.items.map((i: { dedupKey: string }) => i.dedupKey),
    ).toContain('slow');
    expect(
      list.body.items.map((i: { dedupKey: string }) => i.dedupKey),
    ).not.toContain('slow-elsewhere');
    const unheld = await t.api
      .get('/v1/incidents?suppressed=false&status=triggered')
      .expect(200);
    expect(
      unheld.body.items.map((i: { dedupKey: string }) => i.dedupKey),
    ).toContain('slow-elsewhere');
    await t.api.get('/v1/incidents?suppressed=maybe').expect(400);

    await t.api.post('/v1/incidents/core-down/resolve').expect(200);
    await pd.waitFor((r) => r.some((e) => e.dedupKey === 'slow'), 3_000);
    expect(eventsOf(pd, 'slow')).toEqual([`trigger ${KEY_PLATFORM}`]);
    // the order across keys: the source's resolve, then the released trigger
    const order = pd.received.map(
      (e) => `${e.body.event_action} ${e.dedupKey}`,
    );
    expect(order.indexOf('resolve core-down')).toBeLessThan(
      order.indexOf('trigger slow'),
    );
  });

  it('a bad reload is a 400 naming each bad rule, and the old rules stay in force', async () => {
    const before = (await t.api.get('/v1/routing').expect(200)).body;
    expect(before.source.file).toBe(file);
    expect(JSON.stringify(before)).not.toContain(KEY_PLATFORM);
    writeFileSync(
      file,
      FILE.replace(
        'severity: CRITICAL }\n    notify',
        'severity: URGENT }\n    notify',
      ).replace(
        '[pagerduty:cost]\n    pageAfter',
        '[pagerduty:nope]\n    pageAfter',
      ),
    );
    const bad = await t.api.post('/v1/routing/reload').expect(400);
    expect(bad.body.message).toEqual(
      expect.arrayContaining([
        expect.stringContaining('routes[0].match.severity: must be one of'),
        expect.stringContaining('routes[1].notify[0]: no key "nope"'),
      ]),
    );
    expect((await t.api.get('/v1/routing').expect(200)).body).toEqual(before);
    await fire({ alarmName: 'still-routed', environment: 'production' });
    await pd.waitFor((r) => r.length === 1);
    expect(eventsOf(pd)).toEqual([`trigger ${KEY_PLATFORM}`]);
    const metrics = (await t.http().get('/metrics').expect(200)).text;
    expect(metrics).toMatch(
      /alerting_routing_reloads_total\{result="failed"\} 1/,
    );
    writeFileSync(file, FILE);
    await t.api.post('/v1/routing/reload').expect(200);
  });

  it('SIGHUP loads the file again; a bad file there keeps the old rules', async () => {
    writeFileSync(file, FILE.replace('${PD_KEY_PLATFORM}', '${PD_KEY_NEW}'));
    process.emit('SIGHUP', 'SIGHUP');
    expect(
      (await t.api.get('/v1/routing').expect(200)).body.pagerduty.keys.platform,
    ).toBe('****nnn3');
    writeFileSync(file, 'routes: 7');
    process.emit('SIGHUP', 'SIGHUP');
    expect(
      (await t.api.get('/v1/routing').expect(200)).body.pagerduty.keys.platform,
    ).toBe('****nnn3');
    writeFileSync(file, FILE);
    process.emit('SIGHUP', 'SIGHUP');
    expect(
      (await t.api.get('/v1/routing').expect(200)).body.pagerduty.keys.platform,
    ).toBe('****ppp1');
  });

  it('POST /v1/routing/test answers the route, notifiers, key names (never the key) and any hold', async () => {
    const a = await t.api
      .post('/v1/routing/test')
      .send({
        severity: 'error',
        alarmName: 'x',
        environment: 'production',
        customDetails: { team: 'payments' },
      })
      .expect(200);
    expect(a.body).toEqual({
      route: 'payments',
      routes: ['payments', 'payments-platform'],
      notifiers: ['pagerduty:cost', 'pagerduty:platform'],
      pagerdutyKeys: ['cost', 'platform'],
      pageAfterMs: null,
      hold: null,
    });
    const b = await t.api
      .post('/v1/routing/test')
      .send({
        severity: 'warning',
        alarmName: 'a-cost-b',
        class: 'cost',
        component: 'gpu',
      })
      .expect(200);
    expect(b.body).toMatchObject({
      route: 'cost',
      pageAfterMs: 300_000,
      hold: { reason: 'pageAfter' },
    });
    expect(JSON.stringify([a.body, b.body])).not.toMatch(
      new RegExp(`${KEY_COST}|${KEY_PLATFORM}`),
    );
    await t.api
      .post('/v1/routing/test')
      .send({ severity: 'nope', alarmName: 'x' })
      .expect(400);
    await t.api
      .post('/v1/routing/test')
      .send({ severity: 'info', alarmName: 'x' })
      .expect(200);
  });

  it('counts held alerts by reason in /metrics', async () => {
    const text = (await t.http().get('/metrics').expect(200)).text;
    expect(text).toMatch(
      /alerting_alerts_suppressed_total\{reason="pageAfter"\} 2/,
    );
    expect(text).toMatch(
      /alerting_alerts_suppressed_total\{reason="inhibit"\} 1/,
    );
    expect(text).toMatch(
      /alerting_alerts_suppressed_total\{reason="silence"\} 0/,
    );
  });
});

describe('Routing file at boot and offline (e2e)', () => {
  it('a bad routing file stops the boot with one message naming each bad rule', async () => {
    const file = routingFile(
      'routes:\n  - name: a\n    match: { severity: urgent }\n    notify: [sms]\n',
    );
    await expect(
      createTestApp({ env: { ROUTING_FILE: file, NOTIFIERS: 'log' } }),
    ).rejects.toThrow(
      /routes\[0\]\.match\.severity: must be one of[\s\S]*routes\[0\]\.notify\[0\]: notifier "sms" is not enabled/,
    );
  });

  it('the standalone process (build first) exits 1 with the message before listening', () => {
    const file = routingFile(
      'routes:\n  - name: a\n    match: { severity: urgent }\n    notify: [sms]\n',
    );
    const run = spawnSync(process.execPath, ['dist/main.js'], {
      env: {
        PATH: process.env.PATH,
        ROUTING_FILE: file,
        DATABASE_URL: 'sqlite::memory:',
        NOTIFIERS: 'log',
        PORT: '0',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`Invalid routing file ${file}:`);
    expect(run.stderr).toContain(
      '  - routes[0].match.severity: must be one of',
    );
    expect(run.stderr).toContain(
      '  - routes[0].notify[0]: notifier "sms" is not enabled (enabled: log)',
    );
  });

  it('alerting routes test answers offline and exits 1 when --expect-route does not match', async () => {
    const file = routingFile(FILE);
    const lines: string[] = [];
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(l),
    };
    const env = { PD_KEY_PLATFORM: KEY_PLATFORM, PD_KEY_COST: KEY_COST };
    const alert = JSON.stringify({
      severity: 'critical',
      alarmName: 'x',
      environment: 'production',
    });
    expect(
      await runCli(
        [
          'routes',
          'test',
          '--file',
          file,
          alert,
          '--expect-route',
          'prod-critical',
        ],
        env,
        io,
      ),
    ).toBe(0);
    expect(lines).toContain('route: prod-critical');
    expect(lines).toContain('pagerduty keys: platform');
    expect(lines.join('\n')).not.toContain(KEY_PLATFORM);
    lines.length = 0;
    expect(
      await runCli(
        ['routes', 'test', '--file', file, alert, '--expect-route', 'cost'],
        env,
        io,
      ),
    ).toBe(1);
    expect(lines).toContain('expected route cost, got prod-critical');
    lines.length = 0;
    const cont = JSON.stringify({
      severity: 'error',
      alarmName: 'x',
      environment: 'production',
      customDetails: { team: 'payments' },
    });
    expect(
      await runCli(
        [
          'routes',
          'test',
          '--file',
          file,
          cont,
          '--json',
          '--expect-route',
          'payments',
          '--expect-route',
          'payments-platform',
        ],
        env,
        io,
      ),
    ).toBe(0);
    expect(JSON.parse(lines.join('\n'))).toMatchObject({
      notifiers: ['pagerduty:cost', 'pagerduty:platform'],
    });
    // a key variable not set is a bad file
    expect(
      await runCli(['routes', 'test', '--file', file, alert], {}, io),
    ).toBe(1);
  });
});
