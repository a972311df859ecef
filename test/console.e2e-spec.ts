import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Module, type INestApplication } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Page,
} from 'playwright-core';
import request from 'supertest';
import { AlertingModule, ConsoleModule, maskSecret } from '../src/index.js';
import { CONSOLE_CSP } from '../src/console/console.controller.js';
import { FakePagerDuty } from '../src/testing/index.js';
import {
  createTestApp,
  pagerDutyEnv,
  ROUTING_KEY,
  TEST_API_KEY,
  type TestApp,
} from './support/test-app.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';

/**
 * The console in a real Chromium (Debian's package, driven by playwright-core): what an
 * operator sees and clicks, checked against the HTTP answers, the stored rows and what the
 * fake PagerDuty received.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ROOT = new URL('..', import.meta.url);
/** The page polls every 5 s; a new incident shows within one period plus a render. */
const POLL_MS = 5000;

const run = Math.random().toString(36).slice(2, 8);

describe('The operator console in Chromium (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** every URL any page asked for, and what the browser said about the CSP */
  const requested: string[] = [];
  const cspReports: string[] = [];
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `no Chromium at ${CHROMIUM}: run .ci/install-chromium (or set CHROMIUM_PATH)`,
      );
    // the browser files of the sources under test, not a stale build
    execFileSync(process.execPath, ['scripts/build-console.mjs'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    await pd.start();
    t = await createTestApp({ env: pagerDutyEnv(pd) });
    await t.app.listen(0, '127.0.0.1');
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await t?.close();
    await pd.stop();
  });

  async function openPage(
    viewport = { width: 1280, height: 800 },
  ): Promise<Page> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    const page = await context.newPage();
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) cspReports.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    return page;
  }

  async function signIn(page: Page, path = '/console'): Promise<void> {
    await page.goto(`${base}${path}`);
    await page.getByRole('textbox', { name: 'API key' }).fill(TEST_API_KEY);
    await page.getByRole('textbox', { name: 'API key' }).press('Enter');
    await page.getByRole('heading', { name: 'Incidents', level: 1 }).waitFor();
  }

  const status = (page: Page, text: string | RegExp) =>
    page.getByRole('status').filter({ hasText: text }).waitFor();

  const alert = (alarmName: string, over: Record<string, unknown> = {}) =>
    t.api
      .post('/v1/alerts')
      .send({
        severity: 'critical',
        alarmName,
        environment: 'production',
        ...over,
      })
      .expect(202);

  async function until<T>(
    read: () => Promise<T>,
    ok: (v: T) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await read();
      if (ok(v)) return v;
      if (Date.now() > end)
        throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('answers the page, script and style sheet with the strict CSP, nosniff and no inline script', async () => {
    const page = await request(t.app.getHttpServer())
      .get('/console')
      .expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['cache-control']).toBe('no-store');
    // no inline script or style, no address of another host
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/<style|style=|https?:\/\//);
    const js = await request(t.app.getHttpServer())
      .get('/console/app.js')
      .expect(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['content-security-policy']).toBe(CONSOLE_CSP);
    const css = await request(t.app.getHttpServer())
      .get('/console/app.css')
      .expect(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.text).not.toMatch(/@import|url\(\s*['"]?https?:/);
  });

  it('with API keys, shows nothing but the key form until a key is entered; its one API call got a 401 and no data', async () => {
    const before = `before-sign-in-${run}`;
    await alert(before);
    const page = await openPage();
    const api: { path: string; status: number }[] = [];
    page.on('response', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/v1/'))
        api.push({ path: url.pathname + url.search, status: r.status() });
    });
    await page.goto(`${base}/console`);
    await page.getByRole('textbox', { name: 'API key' }).waitFor();
    expect(await page.locator('main').innerText()).not.toContain(before);
    expect(await page.locator('table, nav a').count()).toBe(0);
    expect(await page.locator('#nav').isHidden()).toBe(true);
    expect(api).toEqual([{ path: '/v1/incidents?limit=1', status: 401 }]);

    // a wrong key: refused, still nothing shown
    await page.getByRole('textbox', { name: 'API key' }).fill('wrong-key');
    await page.getByRole('button', { name: 'Open the console' }).click();
    await status(page, 'That key was refused.');
    expect(await page.locator('table').count()).toBe(0);

    await page.getByRole('textbox', { name: 'API key' }).fill(TEST_API_KEY);
    await page.getByRole('textbox', { name: 'API key' }).press('Enter');
    await page.getByRole('link', { name: before }).waitFor();
    // kept for this tab only, never in a cookie
    expect(
      await page.evaluate(() => [
        sessionStorage.getItem('alerting-console-key'),
        document.cookie,
        localStorage.length,
      ]),
    ).toEqual([TEST_API_KEY, '', 0]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('textbox', { name: 'API key' }).waitFor();
    expect(await page.locator('table').count()).toBe(0);
    expect(
      await page.evaluate(() => sessionStorage.getItem('alerting-console-key')),
    ).toBeNull();
  });

  it('shows an incident posted through the API by itself, opens it and acknowledges it: PagerDuty gets the acknowledge', async () => {
    const page = await openPage();
    await signIn(page);
    const name = `checkout-5xx-${run}`;
    const posted = Date.now();
    await alert(name, { description: 'checkout answers 5xx' });
    await page.getByRole('link', { name }).waitFor({ timeout: POLL_MS + 3000 });
    const shownAfterMs = Date.now() - posted;
    console.log(`console: new incident shown ${shownAfterMs} ms after POST`);
    expect(shownAfterMs).toBeLessThan(POLL_MS + 3000);

    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    // the heading is drawn at once from the link; the details follow their GET
    await page
      .locator('main')
      .getByText('checkout answers 5xx')
      .first()
      .waitFor({ timeout: 5_000 });
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await status(page, 'Incident acknowledged.');
    await pd.waitFor((r) =>
      r.some(
        (e) => e.dedupKey === name && e.body.event_action === 'acknowledge',
      ),
    );
    const stored = await t.api.get(`/v1/incidents/${name}`).expect(200);
    expect(stored.body.status).toBe('acknowledged');
    // the page follows: the button is gone, the timeline has the acknowledge
    await page.getByRole('button', { name: 'Acknowledge' }).waitFor({
      state: 'detached',
    });
    expect(
      await page.getByRole('table', { name: 'Timeline' }).innerText(),
    ).toContain('acknowledged');
  });

  it('silences "alerts like this" from the incident page: a new alert for the key is held, never paged', async () => {
    const page = await openPage();
    await signIn(page);
    const name = `db-cpu-${run}`;
    await alert(name);
    await page.goto(`${base}/console#/incidents/${encodeURIComponent(name)}`);
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    // prefilled: alarm name and environment are ticked
    expect(
      await page.getByRole('checkbox', { name: /^alarmName = / }).isChecked(),
    ).toBe(true);
    expect(
      await page.getByRole('checkbox', { name: /^environment = / }).isChecked(),
    ).toBe(true);
    await page.getByRole('combobox', { name: 'Duration' }).selectOption('4h');
    await page.getByRole('textbox', { name: 'Comment' }).fill('db migration');
    await page.getByRole('textbox', { name: 'Created by' }).fill('on-call');
    await page.getByRole('textbox', { name: 'Created by' }).press('Enter');
    await status(page, /Silence created, active until/);
    const silences = await t.api.get('/v1/silences?state=active').expect(200);
    const silence = silences.body.items.find(
      (s: { comment: string }) => s.comment === 'db migration',
    );
    expect(silence).toMatchObject({
      matchers: { alarmName: name, environment: 'production' },
      createdBy: 'on-call',
    });
    expect(Date.parse(silence.endsAt) - Date.parse(silence.startsAt)).toBe(
      4 * 3600_000,
    );

    // the open incident paged before the silence; resolve it, then the key fires again
    await page.getByRole('button', { name: 'Resolve' }).click();
    await status(page, 'Incident resolved.');
    await pd.waitFor((r) =>
      r.some((e) => e.dedupKey === name && e.body.event_action === 'resolve'),
    );
    await alert(name);
    const again = await t.api.get(`/v1/incidents/${name}`).expect(200);
    expect(again.body).toMatchObject({
      status: 'triggered',
      suppressedBy: { reason: 'silence', silenceId: silence.id },
    });
    const held = await t.api
      .get(`/v1/incidents?suppressed=true&q=${name}`)
      .expect(200);
    expect(held.body.items.map((i: { id: string }) => i.id)).toEqual([
      again.body.id,
    ]);
    await page.goto(`${base}/console#/incidents`);
    await page
      .getByRole('row', { name: new RegExp(`${name}.*held: silenced`) })
      .waitFor({ timeout: POLL_MS + 3000 });
    const triggers = pd
      .eventsFor(name)
      .filter((e) => e.body.event_action === 'trigger');
    expect(triggers).toHaveLength(1);

    // and expires it from the silences page
    await page.getByRole('link', { name: 'Silences' }).click();
    await page
      .getByRole('button', { name: new RegExp(`Expire silence .*${name}`) })
      .click();
    await status(page, 'Silence expired.');
    expect(
      (await t.api.get(`/v1/silences/${silence.id}`).expect(200)).body.state,
    ).toBe('expired');
  });

  it('retries a dead delivery from the deliveries page: PagerDuty gets it, the row is delivered', async () => {
    const page = await openPage();
    await signIn(page);
    const name = `payments-dead-${run}`;
    pd.failNext(1, 400, {
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ['Length of summary is too long'],
    });
    await alert(name);
    const dead = await until(
      async () =>
        (await t.api.get('/v1/deliveries?state=dead').expect(200)).body
          .items as { id: string; dedupKey: string }[],
      (items) => items.some((d) => d.dedupKey === name),
      'delivery dead',
    );
    const id = dead.find((d) => d.dedupKey === name)!.id;

    await page.getByRole('link', { name: 'Deliveries' }).click();
    const retry = page.getByRole('button', { name: `Retry delivery ${id}` });
    await retry.waitFor();
    expect(
      await page.getByRole('row', { name: new RegExp(`#${id} `) }).innerText(),
    ).toContain('Event object is invalid');
    await retry.click();
    await status(page, `Delivery ${id} queued again.`);
    await pd.waitFor((r) =>
      r.some((e) => e.dedupKey === name && e.body.event_action === 'trigger'),
    );
    await until(
      async () =>
        (await t.api.get('/v1/deliveries?state=delivered').expect(200)).body
          .items as { id: string }[],
      (items) => items.some((d) => d.id === id),
      'delivery delivered',
    );
    await retry.waitFor({ state: 'detached', timeout: POLL_MS + 3000 });
  });

  it('tests an alert against the routing rules', async () => {
    const page = await openPage();
    await signIn(page);
    await page.getByRole('link', { name: 'Routing' }).click();
    await page.getByRole('textbox', { name: 'Alarm name' }).fill('db-cpu');
    await page.getByRole('textbox', { name: 'Alarm name' }).press('Enter');
    await status(page, 'Tested: route default.');
    const result = await page.locator('.result').innerText();
    expect(result).toMatch(/Notifiers\s+pagerduty/);
    expect(result).toMatch(/Held now\s+no/);
  });

  it('shows the PagerDuty key masked and changes it without ever showing it', async () => {
    const page = await openPage();
    await signIn(page);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.locator('#masked-key').waitFor();
    expect(await page.locator('#masked-key').innerText()).toBe(
      maskSecret(ROUTING_KEY),
    );
    expect(await page.content()).not.toContain(ROUTING_KEY);

    const next = `${run}abcdef0123456789abcdef01234567`.slice(0, 32);
    await page.getByLabel('New routing key').fill(next);
    await page.getByLabel('New routing key').press('Enter');
    await status(page, 'Saved: routingKey.');
    expect(await page.locator('#masked-key').innerText()).toBe(
      maskSecret(next),
    );
    expect(await page.getByLabel('New routing key').inputValue()).toBe('');
    expect(await page.content()).not.toContain(next);
    const stored = await t.api.get('/v1/config/pagerduty').expect(200);
    expect(stored.body).toMatchObject({
      routingKey: maskSecret(next),
      routingKeySource: 'api',
    });
  });

  it('renders a hostile alarm name, description and details as text', async () => {
    const name = `<img src=x onerror="window.__pwned=1">${run}`;
    await alert(name, {
      dedupKey: `hostile-${run}`,
      description: '<script>window.__pwned=2</script>',
      customDetails: { note: '<b onmouseover="window.__pwned=3">x</b>' },
    });
    const page = await openPage();
    await signIn(page);
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(
      name,
    );
    expect(await page.locator('main').innerText()).toContain(
      '<script>window.__pwned=2</script>',
    );
    expect(await page.locator('main img, main script, main b').count()).toBe(0);
    expect(
      await page.evaluate(() => (window as { __pwned?: number }).__pwned),
    ).toBeUndefined();
    expect(dialogs).toEqual([]);
  });

  it('works with the keyboard alone: key, incident, acknowledge', async () => {
    const name = `kbd-${run}`;
    await alert(name);
    const page = await openPage();
    await page.goto(`${base}/console`);
    await page.getByRole('textbox', { name: 'API key' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(
      'api-key',
    );
    await page.keyboard.type(TEST_API_KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name }).waitFor();
    const focused = () =>
      page.evaluate(() => document.activeElement?.textContent ?? '');
    const tabTo = async (text: string) => {
      for (let i = 0; i < 60 && (await focused()) !== text; i++)
        await page.keyboard.press('Tab');
      expect(await focused()).toBe(text);
    };
    await tabTo(name);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await tabTo('Acknowledge');
    await page.keyboard.press('Enter');
    await status(page, 'Incident acknowledged.');
    await pd.waitFor((r) =>
      r.some(
        (e) => e.dedupKey === name && e.body.event_action === 'acknowledge',
      ),
    );
  });

  it('fits a 390×844 phone: no horizontal scroll on the incidents page or an incident', async () => {
    const page = await openPage({ width: 390, height: 844 });
    await signIn(page);
    await page.getByRole('table', { name: 'Open incidents' }).waitFor();
    const overflow = () =>
      page.evaluate(
        () =>
          document.documentElement.scrollWidth -
          document.documentElement.clientWidth,
      );
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.goto(`${base}/console#/incidents/hostile-${run}`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.getByRole('table', { name: 'Deliveries' }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
  });

  it('asked no other host for anything, never put the key in a URL, and broke no CSP rule', () => {
    expect(requested.length).toBeGreaterThan(20);
    const origin = new URL(base).origin;
    expect(requested.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    expect(requested.filter((u) => u.includes(TEST_API_KEY))).toEqual([]);
    expect(cspReports).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  describe.each([
    ['express', () => new ExpressAdapter(), true],
    ['fastify', () => new FastifyAdapter(), false],
  ] as const)(
    'embedded in a %s host under /alerting',
    (_name, adapter, keyed) => {
      let host: INestApplication;
      let db: TestDatabase;
      let hostBase: string;

      beforeAll(async () => {
        db = await createTestDatabase();
        @Module({
          imports: [
            AlertingModule.forRoot({
              config: { appEnv: keyed ? 'production' : 'development' },
              database: { url: db.url },
              auth: keyed ? { apiKeys: [TEST_API_KEY] } : false,
            }),
            // a keyed host sends the key as a bearer, as one whose own guard reads it would
            keyed
              ? ConsoleModule.forRoot({ keyHeader: 'authorization' })
              : ConsoleModule,
            RouterModule.register([
              {
                path: 'alerting',
                module: AlertingModule,
                children: [ConsoleModule],
              },
            ]),
          ],
        })
        class HostModule {}
        const moduleRef = await Test.createTestingModule({
          imports: [HostModule],
        }).compile();
        host = moduleRef.createNestApplication(adapter(), {
          logger: ['error'],
        });
        await host.listen(0, '127.0.0.1');
        hostBase = (await host.getUrl()).replace('[::1]', '127.0.0.1');
      });
      afterAll(async () => {
        await host?.close();
        await db?.drop();
      });

      it('serves the console with its CSP under the prefix; the page finds the API there', async () => {
        const res = await request(host.getHttpServer())
          .get('/alerting/console')
          .expect(200);
        expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
        expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
        await request(host.getHttpServer())
          .get('/alerting/console/app.js')
          .expect(200)
          .expect('content-type', 'text/javascript; charset=utf-8');
        await request(host.getHttpServer()).get('/console').expect(404);
        // the page's links are relative to …/console: a trailing slash would break them
        await request(host.getHttpServer())
          .get('/alerting/console/')
          .expect(404);

        const name = `embedded-${_name}-${run}`;
        await request(host.getHttpServer())
          .post('/alerting/v1/alerts')
          .set('x-api-key', TEST_API_KEY)
          .send({ severity: 'warning', alarmName: name })
          .expect(202);
        const page = await openPage();
        const paths: string[] = [];
        const credentials = new Set<string>();
        page.on('request', (r) => {
          const url = new URL(r.url());
          paths.push(url.pathname);
          if (!url.pathname.startsWith('/alerting/v1/')) return;
          const headers = r.headers();
          credentials.add(
            headers['x-api-key'] !== undefined
              ? 'x-api-key'
              : (headers.authorization?.replace(TEST_API_KEY, '<key>') ??
                  'none'),
          );
        });
        await page.goto(`${hostBase}/alerting/console`);
        if (keyed) {
          // a keyed host asks for the key; a host without keys opens directly
          await page
            .getByRole('textbox', { name: 'API key' })
            .fill(TEST_API_KEY);
          await page.getByRole('textbox', { name: 'API key' }).press('Enter');
        }
        await page.getByRole('link', { name }).waitFor();
        expect(paths.filter((p) => !p.startsWith('/alerting/'))).toEqual([]);
        // keyless first (is a key needed?), then only ever the bearer
        expect([...credentials]).toEqual(
          keyed ? ['none', 'Bearer <key>'] : ['none'],
        );
        expect(await page.locator('#nav').innerText()).toContain(
          keyed ? 'Sign out' : 'Settings',
        );
        if (!keyed)
          expect(await page.locator('#nav').innerText()).not.toContain(
            'Sign out',
          );
      });
    },
  );
});
