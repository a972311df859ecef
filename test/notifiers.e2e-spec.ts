import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { ServerProcess } from './support/server-process.js';
import {
  createTestApp,
  ROUTING_KEY,
  TEST_API_KEY,
} from './support/test-app.js';
import { createTestDatabase } from './support/test-database.js';

const NEW_KEY = 'fedcba9876543210fedcba9876543210';

function webhookReceiver(): Promise<{
  server: Server;
  url: string;
  bodies: any[];
}> {
  const bodies: any[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      bodies.push(JSON.parse(raw));
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        bodies,
        url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
      }),
    ),
  );
}

describe('Notifier selection and runtime PagerDuty settings (e2e)', () => {
  const pd = new FakePagerDuty();
  beforeAll(() => pd.start());
  afterAll(() => pd.stop());
  beforeEach(() => pd.reset());

  it('development without notifier settings logs each transition and sends nothing', async () => {
    const server = await ServerProcess.start({
      APP_ENV: 'development',
      LOG_LEVEL: 'info',
      DATABASE_URL: 'sqlite::memory:',
    });
    try {
      const res = await server.post('/v1/alerts', {
        severity: 'WARNING',
        alarmName: 'dev-only-alarm',
      });
      expect(res.status).toBe(202);
      await server.post('/v1/alerts', {
        severity: 'WARNING',
        alarmName: 'dev-only-alarm',
        status: 'resolved',
      });
      await expect
        .poll(() => server.output.join(''), { timeout: 5_000 })
        .toMatch(/notify resolve dev-only-alarm/);
      expect(server.output.join('')).toMatch(/notify trigger dev-only-alarm/);
      const delivered = await server.get('/v1/deliveries?state=delivered');
      expect(
        delivered.items.map((d: { notifier: string; action: string }) => [
          d.notifier,
          d.action,
        ]),
      ).toEqual([
        ['log', 'resolve'],
        ['log', 'trigger'],
      ]);
      expect(pd.requests).toHaveLength(0);
    } finally {
      await server.kill();
    }
  });

  it('NOTIFIERS=pagerduty,webhook delivers every transition to both', async () => {
    const hook = await webhookReceiver();
    const t = await createTestApp({
      env: {
        APP_ENV: 'staging',
        NOTIFIERS: 'pagerduty,webhook',
        PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
        PAGERDUTY_EVENTS_URL: pd.url,
        WEBHOOK_URL: hook.url,
      },
    });
    try {
      await t.api
        .post('/v1/alerts')
        .send({ severity: 'ERROR', alarmName: 'both-ways', metricName: 'M' })
        .expect(202);
      await t.api
        .post('/v1/alerts')
        .send({
          severity: 'ERROR',
          alarmName: 'both-ways',
          metricName: 'M',
          status: 'resolved',
        })
        .expect(202);
      await pd.waitFor((r) => r.length === 2);
      await expect.poll(() => hook.bodies.length).toBe(2);
      expect(pd.received.map((e) => e.body.event_action)).toEqual([
        'trigger',
        'resolve',
      ]);
      expect(hook.bodies.map((b) => [b.event_action, b.dedup_key])).toEqual([
        ['trigger', 'both-ways-M'],
        ['resolve', 'both-ways-M'],
      ]);
      expect(hook.bodies[0].incident).toMatchObject({
        alarmName: 'both-ways',
        severity: 'ERROR',
        status: 'triggered',
      });
      expect(JSON.stringify(hook.bodies)).not.toContain(ROUTING_KEY);
    } finally {
      await t.close();
      hook.server.close();
    }
  });

  it('a PATCHed routing key is used by the next trigger, masked in GET, and survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerting-settings-'));
    const db = await createTestDatabase(`sqlite:${join(dir, 'a.sqlite')}`);
    const env = {
      APP_ENV: 'production',
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pd.url,
    };
    try {
      let t = await createTestApp({ env, db });
      const before = await t.api.get('/v1/config/pagerduty').expect(200);
      expect(before.body).toMatchObject({
        routingKey: '****cdef',
        routingKeySource: 'environment',
        enabled: true,
      });

      await t.api
        .patch('/v1/config/pagerduty')
        .send({ routingKey: 'short' })
        .expect(400);
      await t.api
        .patch('/v1/config/pagerduty')
        .send({ routingKey: NEW_KEY, colour: 'x' })
        .expect(400);
      const patched = await t.api
        .patch('/v1/config/pagerduty')
        .send({ routingKey: NEW_KEY })
        .expect(200);
      expect(patched.body).toMatchObject({
        routingKey: '****3210',
        routingKeySource: 'api',
      });
      expect(JSON.stringify(patched.body)).not.toContain(NEW_KEY);

      await t.api
        .post('/v1/alerts')
        .send({ severity: 'INFO', alarmName: 'after-patch' })
        .expect(202);
      const [e] = await pd.waitFor((r) => r.length === 1);
      expect(e.body.routing_key).toBe(NEW_KEY);
      await t.close();

      t = await createTestApp({ env, db });
      const after = await t.api.get('/v1/config/pagerduty').expect(200);
      expect(after.body).toMatchObject({
        routingKey: '****3210',
        routingKeySource: 'api',
      });
      await t.api
        .post('/v1/alerts')
        .send({ severity: 'INFO', alarmName: 'after-restart' })
        .expect(202);
      await pd.waitFor((r) => r.length === 2);
      expect(pd.received[1].body.routing_key).toBe(NEW_KEY);
      // the resolve reuses the key stored on the incident at trigger time
      await t.api
        .post('/v1/alerts')
        .send({
          severity: 'INFO',
          alarmName: 'after-patch',
          status: 'resolved',
        })
        .expect(202);
      await pd.waitFor((r) => r.length === 3);
      expect(pd.received[2].body).toEqual({
        routing_key: NEW_KEY,
        dedup_key: 'after-patch',
        event_action: 'resolve',
      });
      await t.close();
    } finally {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a webhook answering a 5 MB refusal, then a body that never ends, is retried within DELIVERY_TIMEOUT and stores only a masked excerpt', async () => {
    let calls = 0;
    const timers = new Set<NodeJS.Timeout>();
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        calls += 1;
        const echo = `not for ${TEST_API_KEY}`;
        if (calls === 1) {
          res.writeHead(503, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: echo, pad: 'x'.repeat(5e6) }));
        } else if (calls === 2) {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.write(`${echo} `);
          const timer = setInterval(() => res.write('.'), 100);
          timers.add(timer);
          res.on('close', () => clearInterval(timer));
        } else {
          res.writeHead(204).end();
        }
      });
    });
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    const port = (server.address() as { port: number }).port;
    const t = await createTestApp({
      env: {
        APP_ENV: 'staging',
        NOTIFIERS: 'webhook',
        WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
        DELIVERY_TIMEOUT: '1s',
        DELIVERY_RETRY_BASE: '50ms',
      },
    });
    try {
      await t.api
        .post('/v1/alerts')
        .send({ severity: 'ERROR', alarmName: 'odd-hook' })
        .expect(202);
      const row = async () =>
        (await t.api.get('/v1/deliveries').expect(200)).body.items[0];
      await expect
        .poll(async () => (await row()).attempts, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(1);
      const failed = await row();
      expect(
        Buffer.byteLength(JSON.stringify(failed.lastResponse)),
      ).toBeLessThanOrEqual(2_200);
      expect(JSON.stringify(failed)).not.toContain(TEST_API_KEY);

      // the second answer never ends: only the send's own deadline gets past it
      await expect
        .poll(async () => (await row()).state, { timeout: 15_000 })
        .toBe('delivered');
      expect(calls).toBe(3);
      expect(JSON.stringify(await row())).not.toContain(TEST_API_KEY);
    } finally {
      await t.close();
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      server.close();
    }
  });
});
