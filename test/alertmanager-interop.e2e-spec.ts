import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { freePort } from './support/server-process.js';
import {
  createTestApp,
  TEST_API_KEY,
  type TestApp,
  pagerDutyEnv,
} from './support/test-app.js';

/** The Debian package names it prometheus-alertmanager; upstream tarballs, alertmanager. */
function findAlertmanager(): string | undefined {
  for (const name of ['prometheus-alertmanager', 'alertmanager']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], {
      encoding: 'utf8',
    });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return undefined;
}

async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// A missing binary fails rather than skips: CI installs it with .ci/install-alertmanager.
describe('a real Prometheus Alertmanager delivering to POST /v1/alertmanager (e2e)', () => {
  const pd = new FakePagerDuty();
  const binary = findAlertmanager();
  let t: TestApp;
  let dir: string;
  let am: ChildProcess | undefined;
  let amUrl: string;
  const amOutput: string[] = [];

  beforeAll(async () => {
    if (!binary) {
      throw new Error(
        'Prometheus Alertmanager is not installed: run .ci/install-alertmanager (apt-get install prometheus-alertmanager)',
      );
    }
    await pd.start();
    t = await createTestApp({
      env: {
        ...pagerDutyEnv(pd),
      },
    });
    await t.app.listen(0, '127.0.0.1');
    const appUrl = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');

    dir = mkdtempSync(join(tmpdir(), 'alertmanager-'));
    writeFileSync(
      join(dir, 'alertmanager.yml'),
      [
        'route:',
        '  receiver: orchestrator-alerting',
        "  group_by: ['alertname']",
        '  group_wait: 0s',
        '  group_interval: 1s',
        '  repeat_interval: 4h',
        'receivers:',
        '  - name: orchestrator-alerting',
        '    webhook_configs:',
        `      - url: ${appUrl}/v1/alertmanager`,
        '        send_resolved: true',
        '        http_config:',
        '          authorization:',
        `            credentials: ${TEST_API_KEY}`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    am = spawn(
      binary,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    am.stdout!.on('data', (d) => amOutput.push(String(d)));
    am.stderr!.on('data', (d) => amOutput.push(String(d)));
    await eventually(async () => {
      if (am!.exitCode !== null)
        throw new Error(
          `alertmanager exited (${am!.exitCode}):\n${amOutput.join('')}`,
        );
      const res = await fetch(`${amUrl}/-/ready`).catch(() => undefined);
      return res?.ok ? true : undefined;
    }, 'alertmanager to be ready');
  });

  afterAll(async () => {
    if (am && am.exitCode === null) {
      const exited = new Promise((r) => am!.once('exit', r));
      am.kill('SIGTERM');
      await exited;
    }
    await t?.close();
    await pd.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const postAlerts = async (alerts: unknown[]) => {
    const res = await fetch(`${amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });
    expect(res.status).toBe(200);
  };

  const incidentsNamed = async (alertname: string) => {
    const res = await t.api.get('/v1/incidents?limit=500').expect(200);
    return (
      res.body.items as {
        alarmName: string;
        dedupKey: string;
        status: string;
        severity: string;
      }[]
    ).filter((i) => i.alarmName === alertname);
  };

  it('opens incidents for the alerts it sends, then resolves them', async () => {
    const alertname = `InteropDown${process.pid}`;
    const alerts = ['web-1:9100', 'web-2:9100'].map((instance) => ({
      labels: { alertname, instance, job: 'node', severity: 'critical' },
      annotations: {
        summary: `Instance ${instance} down`,
        description: `${instance} has been down for 1 minute`,
      },
      generatorURL: 'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0',
    }));

    // endsAt must come after startsAt: the service ignores a transition older than the last applied one.
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    await postAlerts(alerts.map((a) => ({ ...a, startsAt })));
    const opened = await eventually(async () => {
      const found = await incidentsNamed(alertname);
      return found.length === 2 && found.every((i) => i.status === 'triggered')
        ? found
        : undefined;
    }, 'two triggered incidents');
    expect(
      opened.every(
        (i) =>
          /^alertmanager-[0-9a-f]{16}$/.test(i.dedupKey) &&
          i.severity === 'CRITICAL',
      ),
    ).toBe(true);
    const detail = await t.api
      .get(`/v1/incidents/${opened[0].dedupKey}`)
      .expect(200);
    expect(detail.body).toMatchObject({
      ingestSource: 'alertmanager',
      customDetails: { labels: { alertname } },
    });

    const endsAt = new Date(Date.now() - 500).toISOString();
    await postAlerts(alerts.map((a) => ({ ...a, startsAt, endsAt })));
    const resolved = await eventually(async () => {
      const found = await incidentsNamed(alertname);
      return found.length === 2 && found.every((i) => i.status === 'resolved')
        ? found
        : undefined;
    }, 'both incidents resolved');
    expect(resolved.map((i) => i.dedupKey).sort()).toEqual(
      opened.map((i) => i.dedupKey).sort(),
    );

    await pd.waitFor(
      () =>
        opened.every(
          (i) =>
            pd
              .eventsFor(i.dedupKey)
              .map((e) => e.body.event_action)
              .join() === 'trigger,resolve',
        ),
      10_000,
    );
  });
});
