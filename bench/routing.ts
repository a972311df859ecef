// BENCH_ONLY=routing: what a routing file and active silences cost batch ingest.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakePagerDuty } from '../src/testing/fake-pagerduty.js';
import {
  API_KEY,
  SERVICE_NODE_ARGS,
  serviceEnv,
  startNode,
} from './systems.js';
import { BATCH_CONNECTIONS, ID, runWrk, type WrkResult } from './wrk.js';

const fmt = (n: number) =>
  n.toLocaleString('en-US', { maximumFractionDigits: 0 });

/**
 * Issue 12's worst case for the hot path: 200 routes that every bench alert walks to the
 * end (each rule's first terms match, its regex does not), then `default`; 50 active
 * silences that match none of them. Routing and holds must cost batch ingest < 10 %.
 */
function routingBenchFile(dir: string): string {
  const keys = Array.from(
    { length: 10 },
    (_, k) => `    team${k}: \${PD_KEY_${k}}`,
  );
  const routes = Array.from(
    { length: 200 },
    (_, i) => `  - name: route-${i}
    match:
      environment: [production, staging]
      severity: [CRITICAL, ERROR]
      alarmName: { regex: "team-${i}-.*" }
      customDetails.team: team-${i}
    notify: [pagerduty:team${i % 10}]${i % 2 ? '\n    pageAfter: 5m' : ''}`,
  );
  const file = join(dir, 'routing.yaml');
  writeFileSync(
    file,
    [
      'pagerduty:',
      '  keys:',
      ...keys,
      'routes:',
      ...routes,
      'default:',
      '  notify: [pagerduty]',
      'inhibit:',
      '  - source: { severity: CRITICAL, alarmName: { regex: "root-.*" } }',
      '    target: { severity: INFO }',
      '    equal: [environment, component]',
    ].join('\n'),
  );
  return file;
}

async function addSilences(url: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({
        matchers: {
          environment: 'production',
          alarmName: { regex: `maint-${i}-.*` },
        },
        duration: '1d',
        comment: 'bench',
        createdBy: 'bench',
      }),
    });
    if (res.status !== 201) throw new Error(`silence: ${res.status}`);
  }
}

async function drained(url: string): Promise<void> {
  for (;;) {
    const res = await fetch(`${url}/v1/deliveries?state=pending&limit=1`, {
      headers: { 'x-api-key': API_KEY },
    });
    const body = (await res.json()) as { items: unknown[] };
    if (body.items.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Batch ingest on two fresh services, one without routing, one with the file above and 50 silences. */
export async function routingComparison(
  dir: string,
  pd: FakePagerDuty,
): Promise<string[]> {
  const run = async (
    name: string,
    extra: Record<string, string>,
  ): Promise<WrkResult> => {
    const svc = await startNode(
      'dist/main.js',
      {
        ...serviceEnv(join(dir, `${name}.sqlite`), pd.url),
        ...extra,
      },
      SERVICE_NODE_ARGS,
    );
    try {
      if (extra.ROUTING_FILE) await addSilences(svc.url, 50);
      const result = await runWrk(dir, {
        url: svc.url,
        path: '/v1/alerts',
        headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY },
        item: JSON.stringify({
          severity: 'CRITICAL',
          alarmName: ID,
          metricName: 'SupportModeSuccessRate',
          environment: 'production',
          description: 'Success rate has fallen below 95%',
        }),
        perRequest: 100,
        array: true,
        prefix: name,
        connections: BATCH_CONNECTIONS,
      });
      await drained(svc.url);
      return result;
    } finally {
      await svc.stop();
      pd.reset();
    }
  };
  const plain = await run('unrouted', {});
  const routed = await run('routed', {
    ROUTING_FILE: routingBenchFile(dir),
    ...Object.fromEntries(
      Array.from({ length: 10 }, (_, k) => [`PD_KEY_${k}`, `${k}`.repeat(32)]),
    ),
  });
  return [
    `routing: batches of 100, new incidents, ${BATCH_CONNECTIONS} connections, fresh service each:`,
    `  no routing file                      ${fmt(plain.okRps * 100)} alerts/s (non-2xx ${plain.non2xx})`,
    `  200 routes, 50 active silences       ${fmt(routed.okRps * 100)} alerts/s (non-2xx ${routed.non2xx})  ratio ${(routed.okRps / plain.okRps).toFixed(2)}x (target >= 0.90)`,
  ];
}
