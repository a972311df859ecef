import type { TemplateName } from '../../alerting/templates.js';
import { ScenarioContext, sleep } from './scenario-context.js';
import type { ExpectationSpec } from './simulation.types.js';
import { pagerDutyWebhook, simulatedIncident } from './pagerduty-webhook.js';

export const SCENARIO_NAMES = [
  'high-failure-rate',
  'high-latency',
  'cost-threshold',
  'cloudwatch-alarm-cycle',
  'flapping',
  'storm',
  'pagerduty-outage',
  'pagerduty-resolve',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface ScenarioOptions {
  /** storm: how many distinct alerts */
  count: number;
}

export interface Scenario {
  name: ScenarioName;
  summary: string;
  /** needs the built-in fake PagerDuty (cannot run with --target) */
  inProcessOnly?: boolean;
  /** needs the SNS signer */
  sns?: boolean;
  expectations(options: ScenarioOptions): ExpectationSpec[];
  run(ctx: ScenarioContext, options: ScenarioOptions): Promise<void>;
}

/** Time from a request to PagerDuty's answer that a healthy pipeline stays well under. */
const DELIVERY_MS = 10_000;

function expectAccepted(
  ctx: ScenarioContext,
  id: string,
  res: { status: number; body: any },
  actions: string[],
): boolean {
  const got: string[] = Array.isArray(res.body?.results)
    ? res.body.results.map((r: { action: string }) => r.action)
    : [];
  const ok = res.status === 202 && got.join() === actions.join();
  return ctx.decide(
    id,
    ok,
    ok
      ? `202 [${got.join(', ')}]`
      : `expected 202 [${actions.join(', ')}], got ${res.status} ${JSON.stringify(res.body)}`,
  );
}

function templateScenario(
  name: TemplateName,
  input: { currentValue: number; threshold: number },
  severity: string,
  metricName: string,
): Scenario {
  return {
    name,
    summary: `fires the ${name} template, then resolves it`,
    expectations: () => [
      {
        id: 'accepted',
        description: `POST /v1/alerts/templates/${name} answers 202 triggered`,
      },
      {
        id: 'trigger',
        description: `PagerDuty gets one ${severity.toLowerCase()} trigger within ${DELIVERY_MS / 1000} s`,
      },
      {
        id: 'resolved',
        description: 'the resolved alert answers 202 resolved',
      },
      {
        id: 'sequence',
        description: `PagerDuty gets [trigger, resolve] in that order, the resolve within ${DELIVERY_MS / 1000} s`,
      },
    ],
    async run(ctx) {
      // A per-run environment gives a per-run dedup key, so reruns never dedup into an older incident.
      const environment = `sim-${ctx.runId}`;
      const alarmName = `${environment}-hybrid-routing-${name}`;
      const dedupKey = `${alarmName}-${metricName}`;
      ctx.track(dedupKey);
      const fired = await ctx.send(
        `fire ${name}`,
        'POST',
        `/v1/alerts/templates/${name}`,
        { ...input, environment },
      );
      expectAccepted(ctx, 'accepted', fired, ['triggered']);
      await ctx.expectSequence(
        'trigger',
        dedupKey,
        [{ action: 'trigger', after: fired.sentAt }],
        DELIVERY_MS,
      );
      const resolved = await ctx.send(`resolve ${name}`, 'POST', '/v1/alerts', {
        severity,
        alarmName,
        metricName,
        environment,
        status: 'resolved',
      });
      expectAccepted(ctx, 'resolved', resolved, ['resolved']);
      await ctx.expectSequence(
        'sequence',
        dedupKey,
        [
          { action: 'trigger', after: fired.sentAt },
          { action: 'resolve', after: resolved.sentAt },
        ],
        DELIVERY_MS,
      );
    },
  };
}

function alarmMessage(
  name: string,
  state: 'ALARM' | 'OK',
  at: Date,
  region = 'eu-central-1',
) {
  return {
    AlarmName: name,
    AlarmDescription: '[CRITICAL] router CPU above 80% (alerting simulator)',
    AWSAccountId: '123456789012',
    NewStateValue: state,
    NewStateReason: `Threshold Crossed: simulated ${state === 'ALARM' ? 'breach' : 'recovery'}`,
    StateChangeTime: at.toISOString().replace('Z', '+0000'),
    Region: 'EU (Frankfurt)',
    AlarmArn: `arn:aws:cloudwatch:${region}:123456789012:alarm:${name}`,
    OldStateValue: state === 'ALARM' ? 'OK' : 'ALARM',
    Trigger: {
      MetricName: 'CPUUtilization',
      Namespace: 'AWS/EC2',
      StatisticType: 'Statistic',
      Statistic: 'AVERAGE',
      Unit: null,
      Dimensions: [{ value: 'i-0123456789abcdef0', name: 'InstanceId' }],
      Period: 60,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 80,
      TreatMissingData: 'missing',
      EvaluateLowSampleCountPercentile: '',
    },
  };
}

const cloudwatchAlarmCycle: Scenario = {
  name: 'cloudwatch-alarm-cycle',
  summary: 'a signed SNS delivery of a CloudWatch ALARM, then its OK',
  sns: true,
  expectations: () => [
    {
      id: 'alarm-accepted',
      description: 'POST /v1/sns with the signed ALARM answers 202 (ingested)',
    },
    {
      id: 'trigger',
      description: `PagerDuty gets a critical trigger within ${DELIVERY_MS / 1000} s`,
    },
    {
      id: 'ok-accepted',
      description: 'POST /v1/sns with the signed OK answers 202 (ingested)',
    },
    {
      id: 'sequence',
      description: `PagerDuty gets [trigger, resolve] in that order, the resolve within ${DELIVERY_MS / 1000} s`,
    },
  ],
  async run(ctx) {
    const signer = ctx.target.signer;
    if (!signer) throw new Error('cloudwatch-alarm-cycle needs the SNS signer');
    const alarmName = `sim-${ctx.runId}-RouterCpuHigh`;
    const dedupKey = `${alarmName}-CPUUtilization`;
    ctx.track(dedupKey);
    const t0 = new Date();
    const post = (name: string, state: 'ALARM' | 'OK', at: Date) => {
      const body = signer.notification({
        topicArn: ctx.target.snsTopicArn,
        subject: `${state}: "${alarmName}" in EU (Frankfurt)`,
        message: alarmMessage(alarmName, state, at),
        signatureVersion: '2',
      });
      return ctx.send(
        name,
        'POST',
        '/v1/sns',
        JSON.stringify(body),
        signer.headersFor(body),
      );
    };
    const alarm = await post('SNS ALARM', 'ALARM', t0);
    const accepted = (res: { status: number; body: any }) =>
      res.status === 202 && res.body?.outcome === 'ingested';
    ctx.decide(
      'alarm-accepted',
      accepted(alarm),
      `${alarm.status} ${JSON.stringify(alarm.body)}`,
    );
    await ctx.expectSequence(
      'trigger',
      dedupKey,
      [{ action: 'trigger', after: alarm.sentAt }],
      DELIVERY_MS,
    );
    const ok = await post('SNS OK', 'OK', new Date(t0.getTime() + 1000));
    ctx.decide(
      'ok-accepted',
      accepted(ok),
      `${ok.status} ${JSON.stringify(ok.body)}`,
    );
    await ctx.expectSequence(
      'sequence',
      dedupKey,
      [
        { action: 'trigger', after: alarm.sentAt },
        { action: 'resolve', after: ok.sentAt },
      ],
      DELIVERY_MS,
    );
  },
};

const FLAPS = 3;

const flapping: Scenario = {
  name: 'flapping',
  summary: `one alert fires and resolves ${FLAPS} times in quick succession`,
  expectations: () => [
    {
      id: 'answers',
      description: `the ${FLAPS * 2} requests answer 202 alternately triggered and resolved, one new incident per firing`,
    },
    {
      id: 'order',
      description: `PagerDuty gets [trigger, resolve] x${FLAPS} in order, each within ${DELIVERY_MS / 1000} s; no resolve overtakes its trigger`,
    },
  ],
  async run(ctx) {
    const alarmName = `sim-${ctx.runId}-flapping`;
    ctx.track(alarmName);
    const expected: { action: string; after: number }[] = [];
    const answers: string[] = [];
    const incidents = new Set<string>();
    for (let i = 0; i < FLAPS; i++) {
      for (const status of ['firing', 'resolved'] as const) {
        const res = await ctx.send(
          `${status} #${i + 1}`,
          'POST',
          '/v1/alerts',
          {
            severity: 'WARNING',
            alarmName,
            environment: 'simulation',
            description: 'flapping alert (alerting simulator)',
            status,
          },
        );
        const result = res.body?.results?.[0];
        answers.push(
          res.status === 202 ? result?.action : `HTTP ${res.status}`,
        );
        if (result?.incidentId) incidents.add(result.incidentId);
        expected.push({
          action: status === 'firing' ? 'trigger' : 'resolve',
          after: res.sentAt,
        });
      }
    }
    const want = Array.from({ length: FLAPS }, () => [
      'triggered',
      'resolved',
    ]).flat();
    const ok = answers.join() === want.join() && incidents.size === FLAPS;
    ctx.decide(
      'answers',
      ok,
      `[${answers.join(', ')}], ${incidents.size} incident(s)`,
    );
    await ctx.expectSequence('order', alarmName, expected, DELIVERY_MS);
  },
};

const BATCH = 100;

const storm: Scenario = {
  name: 'storm',
  summary: 'many distinct alerts at once, re-sent, then resolved',
  expectations: ({ count }) => {
    const within = stormWindow(count) / 1000;
    return [
      {
        id: 'accepted',
        description: `${count} alerts in batches of ${BATCH} answer 202 triggered`,
      },
      {
        id: 'triggers',
        description: `PagerDuty gets ${count} triggers, one per key, within ${within} s`,
      },
      {
        id: 'dedup',
        description: `re-sending all ${count} answers deduplicated and sends PagerDuty nothing new`,
      },
      {
        id: 'resolves',
        description: `resolving all ${count} gives PagerDuty ${count} resolves within ${within} s`,
      },
    ];
  },
  async run(ctx, { count }) {
    const keys = Array.from(
      { length: count },
      (_, i) => `sim-${ctx.runId}-storm-${String(i + 1).padStart(4, '0')}`,
    );
    ctx.track(...keys);
    const alert = (key: string, status: 'firing' | 'resolved') => ({
      severity: 'ERROR',
      alarmName: key,
      environment: 'simulation',
      description: 'alert storm (alerting simulator)',
      status,
    });
    const sendAll = async (label: string, status: 'firing' | 'resolved') => {
      const actions: string[] = [];
      let firstSentAt = 0;
      for (let i = 0; i < keys.length; i += BATCH) {
        const batch = keys.slice(i, i + BATCH);
        const res = await ctx.send(
          `${label} ${i + 1}-${i + batch.length}`,
          'POST',
          '/v1/alerts',
          batch.map((k) => alert(k, status)),
        );
        firstSentAt ||= res.sentAt;
        if (res.status !== 202)
          throw new Error(
            `${label}: HTTP ${res.status} ${JSON.stringify(res.body)}`,
          );
        actions.push(
          ...res.body.results.map((r: { action: string }) => r.action),
        );
        ctx.progress(
          `  ${label}: ${Math.min(i + BATCH, keys.length)}/${keys.length} sent`,
        );
      }
      return { actions, sentAt: firstSentAt };
    };
    const tally = (actions: string[], action: string) =>
      actions.filter((a) => a === action).length;

    const fired = await sendAll('fire', 'firing');
    ctx.decide(
      'accepted',
      tally(fired.actions, 'triggered') === keys.length,
      `${tally(fired.actions, 'triggered')}/${keys.length} triggered`,
    );
    await ctx.expectEach(
      'triggers',
      keys,
      'trigger',
      fired.sentAt,
      stormWindow(keys.length),
    );

    const before = (await ctx.observe(keys)).length;
    const again = await sendAll('re-send', 'firing');
    // Nothing should follow a dedup; give a wrongly queued event time to show up.
    await sleep(1000);
    const after = await ctx.observe(keys);
    const deduplicated = tally(again.actions, 'deduplicated');
    ctx.decide(
      'dedup',
      deduplicated === keys.length && after.length === before,
      `${deduplicated}/${keys.length} deduplicated, ${after.length - before} new PagerDuty event(s)`,
      { observed: after.slice(before) },
    );

    const resolved = await sendAll('resolve', 'resolved');
    await ctx.expectEach(
      'resolves',
      keys,
      'resolve',
      resolved.sentAt,
      stormWindow(keys.length),
    );
  },
};

function stormWindow(count: number): number {
  return Math.max(DELIVERY_MS, count * 200);
}

const OUTAGE_MS = 1500;
const RECOVERY_MS = 10_000;

const pagerDutyOutage: Scenario = {
  name: 'pagerduty-outage',
  summary:
    'PagerDuty refuses connections, then answers 503, then recovers; nothing is lost or reordered',
  inProcessOnly: true,
  expectations: () => [
    {
      id: 'accepted',
      description: 'the alert answers 202 triggered while PagerDuty is down',
    },
    {
      id: 'held',
      description: `PagerDuty gets nothing while down (${OUTAGE_MS} ms)`,
    },
    {
      id: 'trigger',
      description: `the trigger arrives within ${RECOVERY_MS / 1000} s of PagerDuty coming back`,
    },
    {
      id: 'retried',
      description: 'the resolve is answered 503 twice and retried',
    },
    {
      id: 'sequence',
      description: `PagerDuty gets [trigger, resolve] in order, the resolve within ${RECOVERY_MS / 1000} s`,
    },
  ],
  async run(ctx) {
    const pd = ctx.target.pagerDuty;
    if (!pd)
      throw new Error('pagerduty-outage needs the built-in fake PagerDuty');
    const alarmName = `sim-${ctx.runId}-pagerduty-outage`;
    ctx.track(alarmName);
    const alert = {
      severity: 'CRITICAL',
      alarmName,
      environment: 'simulation',
      description: 'PagerDuty outage drill',
    };

    await pd.goDown();
    ctx.step('PagerDuty down (connections refused)');
    const fired = await ctx.send(
      'fire during outage',
      'POST',
      '/v1/alerts',
      alert,
    );
    expectAccepted(ctx, 'accepted', fired, ['triggered']);
    await sleep(OUTAGE_MS);
    const whileDown = (await ctx.observe()).filter(
      (e) => e.state === 'delivered',
    );
    ctx.decide(
      'held',
      whileDown.length === 0,
      `${whileDown.length} event(s) delivered while down`,
      { observed: whileDown },
    );
    await pd.comeBack();
    const upAt = ctx.step('PagerDuty back');
    await ctx.expectSequence(
      'trigger',
      alarmName,
      [{ action: 'trigger', after: upAt }],
      RECOVERY_MS,
    );

    pd.failNext(2, 503);
    ctx.step('PagerDuty answers the next 2 requests with 503');
    const resolved = await ctx.send('resolve', 'POST', '/v1/alerts', {
      ...alert,
      status: 'resolved',
    });
    await ctx.expectSequence(
      'sequence',
      alarmName,
      [
        { action: 'trigger', after: upAt },
        { action: 'resolve', after: resolved.sentAt },
      ],
      RECOVERY_MS,
    );
    const retries = (await ctx.observe()).filter(
      (e) => e.action === 'resolve' && e.state === 'retrying',
    );
    ctx.decide(
      'retried',
      retries.length === 2,
      `${retries.length} resolve attempt(s) answered 503 before it was accepted`,
      {
        observed: retries,
      },
    );
  },
};

const WEBHOOK_PATH = '/v1/pagerduty/webhooks';

const pagerDutyResolve: Scenario = {
  name: 'pagerduty-resolve',
  summary:
    'a responder resolves in PagerDuty while the alert still fires: ours resolves, nothing is echoed, the next firing pages again',
  expectations: () => [
    { id: 'accepted', description: 'the alert answers 202 triggered' },
    {
      id: 'trigger',
      description: `PagerDuty gets the trigger within ${DELIVERY_MS / 1000} s`,
    },
    {
      id: 'linked',
      description:
        'the signed incident.triggered webhook answers 202 applied; GET /v1/incidents/:key shows the PagerDuty link',
    },
    {
      id: 'resolved',
      description:
        'the signed incident.resolved webhook answers 202 applied; the incident is resolved with reason pagerduty',
    },
    {
      id: 'not-echoed',
      description: 'PagerDuty gets no resolve back for it (1 s)',
    },
    {
      id: 'pages-again',
      description: `the still-firing alert opens a new incident and PagerDuty gets a second trigger within ${DELIVERY_MS / 1000} s`,
    },
  ],
  async run(ctx) {
    const secret = ctx.target.pagerDutyWebhookSecret;
    if (!secret)
      throw new Error(
        "pagerduty-resolve needs one of the target's PAGERDUTY_WEBHOOK_SECRETS (--webhook-secret)",
      );
    const alarmName = `sim-${ctx.runId}-pagerduty-resolve`;
    ctx.track(alarmName);
    const alert = {
      severity: 'CRITICAL',
      alarmName,
      environment: 'simulation',
      description:
        'resolved in PagerDuty while still firing (alerting simulator)',
    };
    const fired = await ctx.send('fire', 'POST', '/v1/alerts', alert);
    expectAccepted(ctx, 'accepted', fired, ['triggered']);
    const firstIncident = fired.body?.results?.[0]?.incidentId;
    await ctx.expectSequence(
      'trigger',
      alarmName,
      [{ action: 'trigger', after: fired.sentAt }],
      DELIVERY_MS,
    );

    // What PagerDuty posts once the trigger became its incident, then when a responder resolves it.
    const incident = simulatedIncident(alarmName);
    const deliver = (name: string, type: string, status: string) => {
      const { body, headers } = pagerDutyWebhook(secret, type, incident, {
        status,
        agent: 'Simulated Responder',
      });
      return ctx.send(name, 'POST', WEBHOOK_PATH, body, headers);
    };
    const show = () =>
      ctx.send('show', 'GET', `/v1/incidents/${encodeURIComponent(alarmName)}`);
    const applied = (res: { status: number; body: any }) =>
      res.status === 202 && res.body?.outcome === 'applied';

    const linked = await deliver(
      'PagerDuty incident.triggered',
      'incident.triggered',
      'triggered',
    );
    const withLink = await show();
    const link = withLink.body?.pagerduty?.htmlUrl;
    ctx.decide(
      'linked',
      applied(linked) && typeof link === 'string' && link.includes(incident.id),
      `${linked.status} ${linked.body?.outcome ?? JSON.stringify(linked.body)}; link ${link ?? 'missing'}`,
    );

    const resolved = await deliver(
      'PagerDuty incident.resolved',
      'incident.resolved',
      'resolved',
    );
    const afterResolve = await show();
    ctx.decide(
      'resolved',
      applied(resolved) &&
        afterResolve.body?.status === 'resolved' &&
        afterResolve.body?.resolveReason === 'pagerduty',
      `${resolved.status} ${resolved.body?.outcome ?? JSON.stringify(resolved.body)}; incident ${afterResolve.body?.status} (${afterResolve.body?.resolveReason})`,
    );

    await sleep(1000);
    const echoed = (await ctx.observe([alarmName])).filter(
      (e) => e.action !== 'trigger',
    );
    ctx.decide(
      'not-echoed',
      echoed.length === 0,
      echoed.length === 0
        ? 'PagerDuty got nothing back'
        : `PagerDuty got ${echoed.map((e) => e.action).join(', ')}`,
      { observed: echoed },
    );

    const again = await ctx.send('still firing', 'POST', '/v1/alerts', alert);
    const reopened = again.body?.results?.[0];
    if (
      again.status !== 202 ||
      reopened?.action !== 'triggered' ||
      reopened?.incidentId === firstIncident
    ) {
      ctx.decide(
        'pages-again',
        false,
        `expected 202 triggered with a new incident, got ${again.status} ${JSON.stringify(again.body)}`,
      );
      return;
    }
    await ctx.expectSequence(
      'pages-again',
      alarmName,
      [
        { action: 'trigger', after: fired.sentAt },
        { action: 'trigger', after: again.sentAt },
      ],
      DELIVERY_MS,
    );
  },
};

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  'high-failure-rate': templateScenario(
    'high-failure-rate',
    { currentValue: 85, threshold: 95 },
    'CRITICAL',
    'SupportModeSuccessRate',
  ),
  'high-latency': templateScenario(
    'high-latency',
    { currentValue: 2400, threshold: 1000 },
    'WARNING',
    'RoutingLatency',
  ),
  'cost-threshold': templateScenario(
    'cost-threshold',
    { currentValue: 180, threshold: 100 },
    'WARNING',
    'RoutingCost',
  ),
  'cloudwatch-alarm-cycle': cloudwatchAlarmCycle,
  flapping,
  storm,
  'pagerduty-outage': pagerDutyOutage,
  'pagerduty-resolve': pagerDutyResolve,
};

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}
