import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { ServerProcess } from './support/server-process.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { ROUTING_KEY, TEST_API_KEY } from './support/test-app.js';

describe('SIGTERM during a burst (real process; build first)', () => {
  const pd = new FakePagerDuty();
  let db: TestDatabase;
  let dir: string;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    await pd.start();
    dir = mkdtempSync(join(tmpdir(), 'alerting-shutdown-'));
    db = await createTestDatabase(`sqlite:${join(dir, 'alerting.sqlite')}`);
  });
  afterAll(async () => {
    await server?.kill();
    await pd.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0, and after a restart every accepted alert is delivered', async () => {
    const env = {
      DATABASE_URL: db.url,
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pd.url,
      PAGERDUTY_RATE_LIMIT_PER_MINUTE: '0',
      DELIVERY_RETRY_BASE: '50ms',
      DISPATCH_POLL_INTERVAL: '100ms',
    };
    server = await ServerProcess.start(env);
    const accepted = new Set<string>();
    const refused: number[] = [];
    let stop = false;
    const burst = Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await server!.post('/v1/alerts', {
            severity: 'critical',
            alarmName: `burst-${worker}-${i}`,
          });
          if (res.status !== 202) {
            refused.push(res.status);
            break;
          }
          for (const r of (await res.json()).results) accepted.add(r.dedupKey);
        } catch {
          break; // the listener is gone
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    await server.kill('SIGTERM');
    stop = true;
    await Promise.all(burst);
    expect(server.signal).toBeNull();
    expect(
      server.exitCode,
      server.output
        .join('')
        .split('\n')
        .filter((l) => !l.includes('request completed'))
        .join('\n')
        .slice(-6000),
    ).toBe(0);
    // Answers during the close are 503 (Fastify's return503OnClosing) or a refused connection.
    expect(
      refused.every((s) => s === 503),
      JSON.stringify(refused),
    ).toBe(true);
    expect(accepted.size).toBeGreaterThan(10);

    await server.start();
    await pd.waitFor(
      (r) => [...accepted].every((k) => r.some((e) => e.dedupKey === k)),
      20_000,
    );
    const triggers = pd.received
      .filter((e) => e.body.event_action === 'trigger')
      .map((e) => e.dedupKey);
    for (const key of accepted) expect(triggers).toContain(key);
    await server.kill('SIGTERM');
    expect(server.exitCode).toBe(0);
  });

  it('cuts a client stalled half-way through its request, and one that sent nothing, after the grace; drains and exits 0', async () => {
    server = await ServerProcess.start({
      DATABASE_URL: db.url,
      NOTIFIERS: 'log',
    });
    const opened = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect(server!.port, '127.0.0.1', () =>
          resolve(socket),
        );
        socket.once('error', reject);
      });
    // headers and 10 of the 100 bytes it announced, then nothing: the request never ends
    const stalled = await opened();
    stalled.on('error', () => undefined);
    stalled.write(
      [
        'POST /v1/alerts HTTP/1.1',
        'Host: 127.0.0.1',
        'Content-Type: application/json',
        `X-API-Key: ${TEST_API_KEY}`,
        'Content-Length: 100',
        '',
        '{"severit',
      ].join('\r\n'),
    );
    // connected, nothing sent: Node counts it as active (for its headers timeout), and
    // closeIdleConnections() skips it just the same
    const silent = await opened();
    silent.on('error', () => undefined);
    const closedByServer = Promise.all(
      [stalled, silent].map(
        (socket) =>
          new Promise<number>((resolve) =>
            socket.once('close', () => resolve(Date.now())),
          ),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));

    const signalledAt = Date.now();
    await server.kill('SIGTERM');
    const text = server.output.join('');
    expect(server.exitCode, text.slice(-4000)).toBe(0);
    expect(text).toMatch(
      /2 client connection\(s\) still open 5000 ms after SIGTERM: closing them \(127\.0\.0\.1:\d+→127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+→127\.0\.0\.1:\d+\)/,
    );
    for (const closedAt of await closedByServer)
      expect(closedAt - signalledAt).toBeGreaterThanOrEqual(4_500);
    expect(Date.now() - signalledAt).toBeLessThan(15_000);
  });
});
