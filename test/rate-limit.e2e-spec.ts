import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  createTestApp,
  ROUTING_KEY,
  type TestApp,
} from './support/test-app.js';
import { Delivery } from '../src/notifier/delivery.entity.js';

describe('PagerDuty rate limit during an alert storm (e2e)', () => {
  const pd = new FakePagerDuty();
  let t: TestApp;

  beforeAll(async () => {
    await pd.start();
    t = await createTestApp({
      env: {
        APP_ENV: 'production',
        NOTIFIERS: 'pagerduty',
        PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
        PAGERDUTY_EVENTS_URL: pd.url,
        // a bucket of 30, then one event every 2 s
        PAGERDUTY_RATE_LIMIT_PER_MINUTE: '30',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pd.stop();
  });

  it('sends the bucket at once, holds the rest without counting attempts, and keeps sending as tokens come', async () => {
    const storm = Array.from({ length: 40 }, (_, i) => ({
      severity: 'CRITICAL',
      alarmName: `storm-${i}`,
    }));
    await t.api.post('/v1/alerts').send(storm).expect(202);
    await pd.waitFor((r) => r.length === 30);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(pd.received).toHaveLength(30);

    const pending = await t.dataSource
      .getRepository(Delivery)
      .find({ where: { state: 'pending' } });
    expect(pending).toHaveLength(10);
    // Held back by our own limit, nothing was sent for them: attempts count requests to PagerDuty.
    expect(pending.map((d) => d.attempts)).toEqual(Array(10).fill(0));
    // the one that found the bucket empty says why; the rest were not even claimed while paused
    expect(
      pending.some((d) => (d.lastError ?? '').includes('rate limit')),
    ).toBe(true);
    expect(
      pending.every(
        (d) => d.lastError === null || d.lastError.includes('rate limit'),
      ),
    ).toBe(true);

    // the next token (2 s after the bucket ran dry) releases exactly one more
    await pd.waitFor((r) => r.length === 31, 4_000);
    expect(pd.requests.every((r) => r.status === 202)).toBe(true);
  });
});
