#!/usr/bin/env node
// Writes docs/console-incidents.png, the README's picture of the console: a real
// `node dist/main.js` on a throw-away SQLite file, a few incidents posted through the API,
// Debian's Chromium at 1280x800 signed in with the API key. Run `npm run build` first.
//
//   node scripts/console-screenshot.mjs [out.png]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = process.argv[2] ?? join(ROOT, 'docs', 'console-incidents.png');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = 'screenshot-key-0123456789';

if (!existsSync(join(ROOT, 'dist', 'console', 'app.js'))) {
  console.error('dist/console is missing: run `npm run build` first');
  process.exit(2);
}

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'alerting-screenshot-'));
const server = spawn(process.execPath, ['dist/main.js'], {
  cwd: ROOT,
  env: {
    PATH: process.env.PATH,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${join(dir, 'alerting.sqlite')}`,
    API_KEYS: KEY,
    NOTIFIERS: 'log',
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
const api = async (method, path, body) => {
  const res = await fetch(base + path, {
    method,
    headers: {
      'x-api-key': KEY,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok)
    throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};

let browser;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health/live`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('the service did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const alert = (severity, alarmName, environment, extra = {}) =>
    api('POST', '/v1/alerts', { severity, alarmName, environment, ...extra });
  await alert('warning', 'orders-queue-depth', 'staging', {
    metricName: 'ApproximateNumberOfMessagesVisible',
    threshold: 1000,
    currentValue: 1450,
  });
  await alert('info', 'nightly-backup-slow', 'production');
  await api('POST', '/v1/incidents/nightly-backup-slow/resolve');
  await alert('error', 'payments-webhook-failures', 'production', {
    metricName: 'Errors',
    threshold: 5,
    currentValue: 17,
  });
  await api(
    'POST',
    '/v1/incidents/payments-webhook-failures-Errors/acknowledge',
  );
  await api('POST', '/v1/silences', {
    matchers: { alarmName: 'search-reindex-lag', environment: 'staging' },
    duration: '4h',
    comment: 'reindex running',
    createdBy: 'dana',
  });
  await alert('warning', 'search-reindex-lag', 'staging');
  await alert('critical', 'checkout-5xx-rate', 'production', {
    metricName: '5xxRate',
    threshold: 2,
    currentValue: 7.4,
  });
  for (let i = 0; i < 3; i++)
    await alert('critical', 'checkout-5xx-rate', 'production', {
      metricName: '5xxRate',
      threshold: 2,
      currentValue: 7.4 + i,
    });
  await alert('critical', 'db-primary-cpu', 'production', {
    metricName: 'CPUUtilization',
    threshold: 90,
    currentValue: 97,
  });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({
    viewport: { width: 1280, height: 800 },
  });
  await page.goto(`${base}/console`);
  await page.getByRole('textbox', { name: 'API key' }).fill(KEY);
  await page.getByRole('textbox', { name: 'API key' }).press('Enter');
  await page.getByRole('table', { name: 'Open incidents' }).waitFor();
  await page.evaluate(
    () =>
      document.activeElement instanceof HTMLElement &&
      document.activeElement.blur(),
  );
  await page.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  await browser?.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
