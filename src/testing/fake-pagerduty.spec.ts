import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakePagerDuty, startFakePagerDuty } from './fake-pagerduty.js';

const KEY = '0123456789abcdef0123456789abcdef';

function trigger(overrides: Record<string, unknown> = {}) {
  return {
    routing_key: KEY,
    event_action: 'trigger',
    dedup_key: 'hfr',
    payload: {
      summary: '🚨 [PRODUCTION] hfr: down',
      source: 'production-hybrid-routing',
      severity: 'critical',
      timestamp: '2026-03-01T10:00:00.000Z',
    },
    ...overrides,
  };
}

describe(FakePagerDuty.name, () => {
  let sut: FakePagerDuty;

  const post = (body: unknown, init: RequestInit = {}) =>
    fetch(sut.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      ...init,
    });

  beforeAll(async () => {
    sut = await startFakePagerDuty();
  });
  afterEach(async () => {
    await sut.comeBack();
    sut.reset();
  });
  afterAll(async () => {
    await sut.stop();
  });

  it('listens on 127.0.0.1 with a random port at /v2/enqueue', () => {
    expect(sut.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\/enqueue$/);
    expect(sut.port).toBeGreaterThan(0);
  });

  it('accepts a trigger with a 32-character key and records it', async () => {
    const res = await post(trigger());

    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({
      status: 'success',
      message: 'Event processed',
      dedup_key: 'hfr',
    });
    expect(sut.received).toHaveLength(1);
    expect(sut.received[0].body).toEqual(trigger());
    expect(sut.received[0].receivedAt).toEqual(expect.any(Number));
  });

  it('generates a dedup_key for a trigger without one', async () => {
    const res = await post(trigger({ dedup_key: undefined }));

    const body = await res.json();
    expect(res.status).toBe(202);
    expect(body.dedup_key).toMatch(/^[0-9a-f]{32}$/);
    expect(sut.received[0].dedupKey).toBe(body.dedup_key);
  });

  it('accepts acknowledge and resolve with only key, dedup_key and action', async () => {
    for (const event_action of ['acknowledge', 'resolve']) {
      const res = await post({
        routing_key: KEY,
        event_action,
        dedup_key: 'hfr',
      });
      expect(res.status).toBe(202);
    }
    expect(sut.eventsFor('hfr').map((e) => e.body.event_action)).toEqual([
      'acknowledge',
      'resolve',
    ]);
  });

  it('rejects a 31-character key with 400 and the errors array', async () => {
    const res = await post(trigger({ routing_key: KEY.slice(1) }));

    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: [
        "Length of 'routing_key' is incorrect (should be 32 characters)",
      ],
    });
    expect(sut.received).toHaveLength(0);
    expect(sut.requests).toHaveLength(1);
    expect(sut.requests[0].status).toBe(400);
  });

  it.each([
    ['a bad event_action', trigger({ event_action: 'fire' }), /event_action/],
    ['a trigger without payload', trigger({ payload: undefined }), /payload/],
    [
      'a missing summary',
      trigger({ payload: { source: 's', severity: 'info' } }),
      /payload\.summary/,
    ],
    [
      'a missing source',
      trigger({ payload: { summary: 's', severity: 'info' } }),
      /payload\.source/,
    ],
    [
      'a missing severity',
      trigger({ payload: { summary: 's', source: 's' } }),
      /payload\.severity/,
    ],
    [
      'an upper-case severity',
      trigger({ payload: { summary: 's', source: 's', severity: 'CRITICAL' } }),
      /payload\.severity/,
    ],
    [
      'a summary over 1024 characters',
      trigger({
        payload: { summary: 'x'.repeat(1025), source: 's', severity: 'info' },
      }),
      /payload\.summary/,
    ],
    [
      'a dedup_key over 255 characters',
      trigger({ dedup_key: 'k'.repeat(256) }),
      /dedup_key/,
    ],
    [
      'a resolve without dedup_key',
      { routing_key: KEY, event_action: 'resolve' },
      /dedup_key/,
    ],
  ])('rejects %s', async (_name, event, error) => {
    const res = await post(event);

    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.status).toBe('invalid event');
    expect(body.errors.join('\n')).toMatch(error);
    expect(sut.received).toHaveLength(0);
  });

  it('counts summary length in code points, like the event builder', async () => {
    const summary = '😀'.repeat(1024);

    const res = await post(
      trigger({ payload: { summary, source: 's', severity: 'info' } }),
    );

    expect(res.status).toBe(202);
  });

  it('rejects a body that is not JSON', async () => {
    const res = await post('{not json');

    expect(res.status).toBe(400);
    expect((await res.json()).errors).toHaveLength(1);
  });

  it('answers scripted failures in order, then recovers', async () => {
    sut.failNext(2, 500).failNext(1, 429, undefined, { 'Retry-After': '3' });

    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const res = await post(trigger());
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.text();
    }

    expect(statuses).toEqual([500, 500, 429, 202]);
    expect(retryAfter).toBe('3');
    expect(sut.received).toHaveLength(1);
    expect(sut.requests).toHaveLength(4);
  });

  it('hangs while told to, recording the request unanswered', async () => {
    sut.hang(true);

    await expect(
      post(trigger(), { signal: AbortSignal.timeout(200) }),
    ).rejects.toThrow();
    expect(sut.requests).toHaveLength(1);
    expect(sut.requests[0].status).toBeNull();

    sut.hang(false);
    expect((await post(trigger())).status).toBe(202);
  });

  it('refuses connections while down and comes back on the same port', async () => {
    const url = sut.url;
    await post(trigger()).then((r) => r.text());

    await sut.goDown();
    const down = await post(trigger()).catch(
      (e: Error & { cause?: { code?: string } }) => e,
    );
    expect(down).toBeInstanceOf(Error);
    expect((down as Error & { cause?: { code?: string } }).cause?.code).toBe(
      'ECONNREFUSED',
    );

    await sut.comeBack();
    expect(sut.url).toBe(url);
    expect((await post(trigger())).status).toBe(202);
  });

  it('waitFor resolves once the accepted events satisfy the predicate', async () => {
    const waiting = sut.waitFor((events) => events.length >= 2, 2_000);
    await post(trigger());
    await post(trigger({ event_action: 'resolve', payload: undefined }));

    const events = await waiting;
    expect(events.map((e) => e.body.event_action)).toEqual([
      'trigger',
      'resolve',
    ]);
  });

  it('waitFor rejects after the timeout, saying what arrived', async () => {
    await expect(
      sut.waitFor((events) => events.length > 0, 50),
    ).rejects.toThrow(/0 event\(s\) accepted/);
  });

  it('reset forgets events and scripted failures', async () => {
    await post(trigger());
    sut.failNext(5, 503);

    sut.reset();

    expect(sut.received).toHaveLength(0);
    expect(sut.requests).toHaveLength(0);
    expect((await post(trigger())).status).toBe(202);
  });
});
