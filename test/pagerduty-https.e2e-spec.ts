import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSelfSignedCertificate } from '../src/testing/self-signed-certificate.js';
import { ServerProcess } from './support/server-process.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { ROUTING_KEY } from './support/test-app.js';

// PagerDuty is HTTPS: the real process must verify the certificate against Node's trust
// store (NODE_EXTRA_CA_CERTS adds a private CA), and refuse one it does not trust.
describe('delivery to PagerDuty over HTTPS (real process)', () => {
  let dir: string;
  let db: TestDatabase;
  let https: Server;
  let server: ServerProcess | undefined;
  let caFile: string;
  const received: { path: string; body: any }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-pd-https-'));
    const { keyPem, certPem } = createSelfSignedCertificate({
      commonName: 'localhost',
    });
    caFile = join(dir, 'pagerduty-ca.pem');
    writeFileSync(caFile, certPem);
    https = createServer({ key: keyPem, cert: certPem }, (req, res) => {
      let raw = '';
      req.on('data', (chunk) => (raw += String(chunk)));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(raw) });
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ status: 'success', message: 'Event processed' }),
        );
      });
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await server?.kill();
    server = undefined;
    await db?.drop();
    received.length = 0;
  });
  afterAll(async () => {
    await new Promise((resolve) => https.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (name: string, env: Record<string, string> = {}) => {
    db = await createTestDatabase(`sqlite:${join(dir, `${name}.sqlite`)}`);
    const port = (https.address() as { port: number }).port;
    server = await ServerProcess.start({
      DATABASE_URL: db.url,
      APP_ENV: 'production',
      NOTIFIERS: 'pagerduty',
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: `https://localhost:${port}/v2/enqueue`,
      ...env,
    });
    return server;
  };
  const fire = async (s: ServerProcess, alarmName: string) => {
    const res = await s.post('/v1/alerts', { severity: 'CRITICAL', alarmName });
    expect(res.status).toBe(202);
    return ((await res.json()) as { results: { dedupKey: string }[] })
      .results[0].dedupKey;
  };
  const deliveryOf = async (s: ServerProcess, dedupKey: string) =>
    (
      (await s.get('/v1/deliveries')) as {
        items: { dedupKey: string; state: string; lastError: string | null }[];
      }
    ).items.find((d) => d.dedupKey === dedupKey);

  it('delivers when the certificate chains to a trusted CA', async () => {
    const s = await start('trusted', { NODE_EXTRA_CA_CERTS: caFile });

    const dedupKey = await fire(s, 'https-trusted');

    await expect
      .poll(async () => (await deliveryOf(s, dedupKey))?.state, {
        timeout: 10_000,
      })
      .toBe('delivered');
    expect(received).toHaveLength(1);
    expect(received[0].path).toBe('/v2/enqueue');
    expect(received[0].body).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: dedupKey,
    });
  });

  it('sends nothing to a server whose certificate it does not trust, and keeps the delivery to retry', async () => {
    const s = await start('untrusted');

    const dedupKey = await fire(s, 'https-untrusted');

    await expect
      .poll(async () => (await deliveryOf(s, dedupKey))?.lastError, {
        timeout: 10_000,
      })
      .toMatch(/could not reach PagerDuty.*self-signed certificate/);
    const delivery = await deliveryOf(s, dedupKey);
    expect(delivery?.state).toBe('pending');
    expect(received).toHaveLength(0);
  });
});
