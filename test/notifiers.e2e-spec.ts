import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import { ServerProcess } from './support/server-process.js';
import { createTestApp, ROUTING_KEY } from './support/test-app.js';
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
});
