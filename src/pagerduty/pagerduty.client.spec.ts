import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  it,
  vi,
} from 'vitest';
import { NotifierError } from '../notifier/notifier.port.js';
import {
  FakePagerDuty,
  startFakePagerDuty,
} from '../testing/fake-pagerduty.js';
import type { PagerDutyEvent } from './pagerduty-event.builder.js';
import { PagerDutyClient, parseRetryAfter } from './pagerduty.client.js';

const KEY = '0123456789abcdef0123456789abcdef';

const trigger: PagerDutyEvent = {
  routing_key: KEY,
  event_action: 'trigger',
  dedup_key: 'hfr',
  payload: {
    summary: '🚨 [PRODUCTION] hfr: down',
    source: 'production-hybrid-routing',
    severity: 'critical',
    timestamp: '2026-03-01T10:00:00.000Z',
    component: 'hybrid-routing',
    group: 'ai-orchestrator',
    custom_details: {},
  },
  links: [],
  client: 'orchestrator-alerting',
};

async function sendError(
  sut: PagerDutyClient,
  event: PagerDutyEvent = trigger,
): Promise<NotifierError> {
  const error = await sut.send(event).then(
    () => {
      throw new Error('expected send to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NotifierError);
  return error as NotifierError;
}

describe(PagerDutyClient.name, () => {
  let fake: FakePagerDuty;
  let sut: PagerDutyClient;

  beforeAll(async () => {
    fake = await startFakePagerDuty();
    sut = new PagerDutyClient({
      eventsUrl: fake.url,
      timeoutMs: 300,
    });
  });
  afterEach(async () => {
    await fake.comeBack();
    fake.reset();
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('resolves with the 202 answer', async () => {
    await expect(sut.send(trigger)).resolves.toEqual({
      status: 202,
      body: { status: 'success', message: 'Event processed', dedup_key: 'hfr' },
    });
    expect(fake.received[0].body).toEqual(trigger);
    expect(fake.requests[0].headers['content-type']).toMatch(
      /^application\/json/,
    );
  });

  it('makes a 400 final, keeping PagerDuty message and errors', async () => {
    const error = await sendError(sut, { ...trigger, routing_key: 'short' });

    expect(error.retryable).toBe(false);
    expect(error.details).toEqual({
      status: 400,
      body: {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: [
          "Length of 'routing_key' is incorrect (should be 32 characters)",
        ],
      },
    });
    expect(error.message).toContain('Event object is invalid');
    expect(error.message).toContain("Length of 'routing_key' is incorrect");
  });

  it.each([408, 500, 502, 503, 504])('retries a %i', async (status) => {
    fake.failNext(1, status);

    const error = await sendError(sut);

    expect(error.retryable).toBe(true);
    expect(error.details?.status).toBe(status);
  });

  it('retries a 429 and honours Retry-After in seconds', async () => {
    fake.failNext(1, 429, undefined, { 'Retry-After': '7' });

    const error = await sendError(sut);

    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ status: 429, retryAfterMs: 7_000 });
  });

  it('retries a 429 without Retry-After, leaving the delay to the dispatcher', async () => {
    fake.failNext(1, 429);

    const error = await sendError(sut);

    expect(error.retryable).toBe(true);
    expect(error.details).not.toHaveProperty('retryAfterMs');
  });

  it.each([401, 403, 404, 413, 422])('makes a %i final', async (status) => {
    fake.failNext(1, status, { message: 'nope' });

    const error = await sendError(sut);

    expect(error.retryable).toBe(false);
    expect(error.details?.status).toBe(status);
  });

  it.each([200, 201, 204])(
    'does not take a %i for success and retries',
    async (status) => {
      fake.failNext(1, status, status === 204 ? '' : { status: 'success' });

      const error = await sendError(sut);

      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(
        new RegExp(`unexpected PagerDuty status ${status}.*only 202`),
      );
    },
  );

  it('does not follow a redirect', async () => {
    fake.failNext(1, 302, '', { Location: 'http://127.0.0.1:1/elsewhere' });

    const error = await sendError(sut);

    expect(error.retryable).toBe(true);
    expect(error.details?.status).toBe(302);
  });

  it('retries when the connection is refused', async () => {
    await fake.goDown();

    const error = await sendError(sut);

    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('retries when the connection is reset', async () => {
    const { createServer } = await import('node:net');
    const server = createServer((socket) =>
      socket.on('data', () => socket.resetAndDestroy()),
    );
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    const port = (server.address() as { port: number }).port;
    const resetting = new PagerDutyClient({
      eventsUrl: `http://127.0.0.1:${port}/v2/enqueue`,
    });

    try {
      const error = await sendError(resetting);
      expect(error.retryable).toBe(true);
      expect(error.message).toContain('ECONNRESET');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives up after timeoutMs on a hung server and retries', async () => {
    fake.hang(true);
    const started = performance.now();

    const error = await sendError(sut);

    expect(error.retryable).toBe(true);
    expect(error.message).toBe('PagerDuty did not answer within 300 ms');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('disarms its deadline once PagerDuty has answered', async () => {
    const timers = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const watched = new PagerDutyClient({
      eventsUrl: fake.url,
      timeoutMs: 60_000,
    });
    const before = timers();

    await watched.send(trigger);

    // an armed deadline would keep a timer (and the send's signal) alive for a minute
    expect(timers()).toBe(before);
  });

  it('reads a function eventsUrl on every send', async () => {
    let url = 'http://127.0.0.1:1/v2/enqueue';
    const switching = new PagerDutyClient({
      eventsUrl: () => url,
    });

    expect((await sendError(switching)).retryable).toBe(true);
    url = fake.url;
    await expect(switching.send(trigger)).resolves.toMatchObject({
      status: 202,
    });
  });

  it('closes its connections to the previous origin once the events URL moves', async () => {
    const { createServer } = await import('node:http');
    let open = 0;
    const previous = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(202).end('{}'));
    });
    previous.on('connection', (socket) => {
      open += 1;
      socket.on('close', () => (open -= 1));
    });
    await new Promise<void>((resolve) =>
      previous.listen(0, '127.0.0.1', resolve),
    );
    let url = `http://127.0.0.1:${(previous.address() as { port: number }).port}/v2/enqueue`;
    const moving = new PagerDutyClient({ eventsUrl: () => url });

    try {
      await moving.send(trigger);
      expect(open).toBe(1); // kept alive for the next send

      url = fake.url;
      await moving.send(trigger);

      await vi.waitFor(() => expect(open).toBe(0), { timeout: 1_000 });
    } finally {
      await new Promise((resolve) => previous.close(resolve));
    }
  });

  it('sends credentials given in the events URL as Basic auth, and the path and query as given', async () => {
    const withUser = new PagerDutyClient({
      eventsUrl:
        fake.url.replace('http://', 'http://gate%40way:s3cret@') + '?via=gw',
    });

    await withUser.send(trigger);

    const request = fake.requests.at(-1)!;
    expect(request.path).toBe('/v2/enqueue?via=gw');
    expect(request.headers.authorization).toBe(
      `Basic ${Buffer.from('gate@way:s3cret').toString('base64')}`,
    );
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.rawBody)).toEqual(trigger);
  });

  it('takes a 202 with a 5 MB body without holding it, keeping only its start', async () => {
    fake.quirkNext(1, { bodyBytes: 5_000_000 });

    const accepted = await sut.send(trigger);

    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ truncated: true, cut: 'limit' });
    expect(
      Buffer.byteLength((accepted.body as { excerpt: string }).excerpt),
    ).toBeLessThanOrEqual(2048);
    expect(fake.received).toHaveLength(1);
  });

  it.each([
    [
      'a body trickling past the deadline',
      { trickle: { everyMs: 100, chunks: 20 } },
    ],
    ['a connection reset mid-body', { resetAfterBytes: 10 }],
    ['a body that is not JSON', { body: '<html>queued</html>' }],
  ])('takes a 202 with %s as accepted', async (_, quirk) => {
    fake.quirkNext(1, quirk);
    const started = performance.now();

    const accepted = await sut.send(trigger);

    expect(accepted.status).toBe(202);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(fake.received).toHaveLength(1);
  });

  it('keeps what arrived of a 202 whose body outlasts the deadline, cut there', async () => {
    fake.quirkNext(1, { trickle: { everyMs: 100, chunks: 20 } });

    const accepted = await sut.send(trigger);

    expect(accepted).toMatchObject({
      status: 202,
      body: { truncated: true, cut: 'deadline' },
    });
  });

  it('makes a 400 final whatever shape its errors have', async () => {
    fake.failNext(1, 400, { message: { nested: true }, errors: 'one string' });

    const error = await sendError(sut);

    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      'PagerDuty rejected the event (400): invalid event',
    );
  });

  it('never puts the routing key in an error message', async () => {
    fake.failNext(1, 500, { message: `bad key ${KEY}` });
    fake.failNext(1, 400, {
      status: 'invalid event',
      message: `routing key ${KEY} unknown`,
      errors: [`${KEY} is not a key`],
    });

    const retryable = await sendError(sut);
    const final = await sendError(sut);

    for (const error of [retryable, final]) {
      expect(error.message).not.toContain(KEY);
      expect(error.message).toContain('****cdef');
    }
  });
});

describe(parseRetryAfter.name, () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.parse('2026-03-01T10:00:00.000Z');

    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('gives no advice for negative or garbage values, and a finite one for huge ones', () => {
    const now = Date.parse('2026-03-01T10:00:00.000Z');

    for (const garbage of ['-5', '1 2', '1e3', '0x10', '', 'Sun'])
      expect(parseRetryAfter(garbage, now)).toBeUndefined();
    expect(parseRetryAfter('99999999999999999', now)).toBe(1e20);
    expect(Number.isFinite(parseRetryAfter('9'.repeat(400), now))).toBe(true);
    expect(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', now)).toBe(
      Date.parse('9999-12-31T23:59:59Z') - now,
    );
  });
});
