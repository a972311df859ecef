import { createTestApp, type TestApp } from './support/test-app.js';

describe('GET /v1/incidents filters (e2e)', () => {
  let t: TestApp;
  const run = Math.random().toString(36).slice(2, 8);
  const keys = {
    prodCritical: `${run}-checkout_5xx%`,
    prodWarning: `${run}-checkout-latency`,
    stagingCritical: `${run}-Checkout-DB`,
    other: `${run}-billing`,
  };

  beforeAll(async () => {
    t = await createTestApp({ env: { NOTIFIERS: 'log' } });
    const alerts = [
      [keys.prodCritical, 'critical', 'production'],
      [keys.prodWarning, 'warning', 'production'],
      [keys.stagingCritical, 'CRITICAL', 'staging'],
      [keys.other, 'info', 'production'],
    ].map(([dedupKey, severity, environment]) => ({
      dedupKey,
      severity,
      environment,
      alarmName: dedupKey,
    }));
    await t.api.post('/v1/alerts').send(alerts).expect(202);
  });
  afterAll(() => t?.close());

  const keysOf = async (query: string) =>
    (
      (await t.api.get(`/v1/incidents?${query}`).expect(200)).body.items as {
        dedupKey: string;
      }[]
    )
      .map((i) => i.dedupKey)
      .sort();

  it('filters by environment, severity (any case) and part of the key (any case)', async () => {
    expect(await keysOf(`environment=staging&q=${run}`)).toEqual([
      keys.stagingCritical,
    ]);
    expect(await keysOf(`severity=critical,WARNING&q=${run}`)).toEqual(
      [keys.prodCritical, keys.prodWarning, keys.stagingCritical].sort(),
    );
    expect(await keysOf(`q=${encodeURIComponent(`${run}-CHECKOUT`)}`)).toEqual(
      [keys.prodCritical, keys.prodWarning, keys.stagingCritical].sort(),
    );
    expect(
      await keysOf(
        `environment=production&severity=critical&q=${encodeURIComponent(run)}`,
      ),
    ).toEqual([keys.prodCritical]);
  });

  it('reads % and _ in the searched key as characters, not wildcards', async () => {
    expect(await keysOf(`q=${encodeURIComponent('_5xx%')}`)).toEqual([
      keys.prodCritical,
    ]);
    // "_" would match the "-" of "checkout-latency" as a wildcard
    expect(await keysOf(`q=${encodeURIComponent('checkout_l')}`)).toEqual([]);
    expect(await keysOf(`q=${encodeURIComponent('%')}`)).toEqual([
      keys.prodCritical,
    ]);
  });

  it.each([
    ['severity=loud', 'severity'],
    ['environment=', 'environment'],
    [`environment=${'e'.repeat(65)}`, 'environment'],
    [`q=${'k'.repeat(513)}`, 'q'],
    ['q=a&q=b', 'q'],
    ['environment=a&environment=b', 'environment'],
  ])('answers 400 naming the parameter for %s', async (query, name) => {
    const res = await t.api.get(`/v1/incidents?${query}`).expect(400);
    expect(JSON.stringify(res.body.message)).toContain(name);
  });
});
