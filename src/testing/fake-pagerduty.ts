import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/** An event the fake accepted with 202, in arrival order. */
export interface FakePagerDutyEvent {
  body: any;
  /** the dedup_key answered: the event's own, or the one generated for a keyless trigger */
  dedupKey: string;
  /** `performance.now()` at arrival, for ordering and rate assertions */
  receivedAt: number;
}

/** Every request, accepted or not. */
export interface FakePagerDutyRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** status answered; `null` while hung (never answered) */
  status: number | null;
  receivedAt: number;
}

interface ScriptedFailure {
  remaining: number;
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * How the fake answers an event it accepts, instead of PagerDuty's small JSON: the event
 * is recorded as received either way (PagerDuty took it), only the answer is odd.
 */
export interface FakePagerDutyQuirk {
  /** the 202 body: a string as is, else JSON; a function gets the event */
  body?: string | ((event: any) => unknown);
  /** pad the answer to this many bytes (a huge body) */
  bodyBytes?: number;
  contentType?: string;
  /** headers first, then the body in `chunks` pieces `everyMs` apart */
  trickle?: { everyMs: number; chunks: number };
  /** reset the connection after this many bytes of the body */
  resetAfterBytes?: number;
}

const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);
const ACTIONS = new Set(['trigger', 'acknowledge', 'resolve']);
const MAX_EVENT_BYTES = 512_000;

const DEFAULT_FAILURE_BODIES: Record<number, unknown> = {
  429: {
    status: 'throttle event',
    message:
      'Requests for this service are arriving too quickly. Please retry later.',
  },
};

/**
 * A local PagerDuty Events API v2 (`POST /v2/enqueue`) for tests and the CLI simulator:
 * validates like the real one, records what it accepted, and can be scripted to fail, hang
 * or go away.
 */
export class FakePagerDuty {
  /** `keepAlive`: reuse connections like the real API does (the bench); tests of refused connections need it off */
  constructor(private readonly options: { keepAlive?: boolean } = {}) {}

  readonly received: FakePagerDutyEvent[] = [];
  readonly requests: FakePagerDutyRequest[] = [];

  private server: Server | undefined;
  private boundPort: number | undefined;
  private hanging = false;
  private failures: ScriptedFailure[] = [];
  private quirks: Array<{ remaining: number; quirk: FakePagerDutyQuirk }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rejectedKeys = new Set<string>();
  private readonly hungResponses = new Set<ServerResponse>();
  private readonly waiters = new Set<() => void>();

  get port(): number {
    if (this.boundPort === undefined)
      throw new Error('fake PagerDuty not started');
    return this.boundPort;
  }

  /** `http://127.0.0.1:<port>/v2/enqueue` */
  get url(): string {
    return `http://127.0.0.1:${this.port}/v2/enqueue`;
  }

  get isUp(): boolean {
    return this.server?.listening ?? false;
  }

  /** Listens on 127.0.0.1 (`port` 0 = random); resolves with {@link url}. */
  async start(port = 0): Promise<string> {
    if (this.isUp) return this.url;
    await this.listen(port);
    return this.url;
  }

  async stop(): Promise<void> {
    await this.close();
  }

  /** Connections are refused until {@link comeBack}; the port is kept. */
  async goDown(): Promise<void> {
    await this.close();
  }

  async comeBack(): Promise<void> {
    if (this.boundPort === undefined)
      throw new Error('fake PagerDuty never started');
    if (this.isUp) return;
    await this.listen(this.boundPort);
  }

  /**
   * The next `count` requests get `status` (and `body`, `headers`, e.g.
   * `{ 'Retry-After': '2' }`) whatever they contain. Calls queue up in order.
   */
  failNext(
    count: number,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): this {
    this.failures.push({
      remaining: count,
      status,
      body:
        body ?? DEFAULT_FAILURE_BODIES[status] ?? defaultFailureBody(status),
      headers,
    });
    return this;
  }

  /**
   * The next `count` events it accepts are answered oddly (a huge, slow, broken or non-JSON
   * 202), after scripted failures. Calls queue up in order.
   */
  quirkNext(count: number, quirk: FakePagerDutyQuirk): this {
    this.quirks.push({ remaining: count, quirk });
    return this;
  }

  /**
   * Events for these routing keys get the 400 PagerDuty gives a well-formed key that
   * belongs to no integration (a 31-character key never gets past config validation).
   */
  rejectRoutingKeys(...keys: string[]): this {
    for (const key of keys) this.rejectedKeys.add(key);
    return this;
  }

  /** While on, requests are read and recorded but never answered. */
  hang(on: boolean): this {
    this.hanging = on;
    return this;
  }

  /** Forgets what was received and scripted; hung requests are dropped. */
  reset(): void {
    this.received.length = 0;
    this.requests.length = 0;
    this.failures = [];
    this.quirks = [];
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    this.rejectedKeys.clear();
    this.hanging = false;
    for (const res of this.hungResponses) res.destroy();
    this.hungResponses.clear();
  }

  /** Resolves with the accepted events once `predicate` holds for them. */
  waitFor(
    predicate: (received: FakePagerDutyEvent[]) => boolean,
    timeoutMs = 5_000,
  ): Promise<FakePagerDutyEvent[]> {
    if (predicate(this.received)) return Promise.resolve(this.received);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.received)) return;
        done();
        resolve(this.received);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `fake PagerDuty: condition not met within ${timeoutMs} ms; ` +
              `${this.received.length} event(s) accepted: ` +
              JSON.stringify(
                this.received.map((e) => [e.body?.event_action, e.dedupKey]),
              ),
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Accepted events for one dedup key, in arrival order. */
  eventsFor(dedupKey: string): FakePagerDutyEvent[] {
    return this.received.filter((e) => e.dedupKey === dedupKey);
  }

  private listen(port: number): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.server = server;
        this.boundPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    for (const res of this.hungResponses) res.destroy();
    this.hungResponses.clear();
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    return new Promise((resolve) => {
      server.close(() => resolve());
      // Kept-alive sockets would otherwise let a "down" fake keep answering.
      server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const record: FakePagerDutyRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        rawBody,
        status: null,
        receivedAt: performance.now(),
      };
      this.requests.push(record);
      this.respond(req, res, rawBody, record);
    });
  }

  private respond(
    req: IncomingMessage,
    res: ServerResponse,
    rawBody: string,
    record: FakePagerDutyRequest,
  ): void {
    const reply = (
      status: number,
      body: unknown,
      headers: Record<string, string> = {},
    ) => {
      record.status = status;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        // One connection per request: a pooled socket the fake closed in goDown() would
        // otherwise surface as a reset instead of the refused connection a test expects.
        ...(this.options.keepAlive ? {} : { Connection: 'close' }),
        'Content-Type':
          typeof body === 'string' ? 'text/plain' : 'application/json',
        ...headers,
      });
      res.end(text);
    };

    if (this.hanging) {
      this.hungResponses.add(res);
      res.on('close', () => this.hungResponses.delete(res));
      return;
    }

    const failure = this.failures[0];
    if (failure) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) this.failures.shift();
      reply(failure.status, failure.body, failure.headers);
      return;
    }

    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v2/enqueue') {
      reply(404, { status: 'not found', message: 'Not found' });
      return;
    }

    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      reply(400, invalidEvent(['Event body is not valid JSON']));
      return;
    }

    const errors = validateEvent(body, Buffer.byteLength(rawBody, 'utf8'));
    const routingKey = (body as { routing_key?: unknown } | null)?.routing_key;
    if (typeof routingKey === 'string' && this.rejectedKeys.has(routingKey)) {
      errors.push('Invalid routing key');
    }
    if (errors.length > 0) {
      reply(400, invalidEvent(errors));
      return;
    }

    const event = body as { dedup_key?: string };
    const dedupKey = event.dedup_key || randomBytes(16).toString('hex');
    this.received.push({ body, dedupKey, receivedAt: record.receivedAt });
    const answer = {
      status: 'success',
      message: 'Event processed',
      dedup_key: dedupKey,
    };
    const quirky = this.quirks[0];
    if (quirky) {
      quirky.remaining -= 1;
      if (quirky.remaining <= 0) this.quirks.shift();
      record.status = 202;
      this.answerOddly(req, res, quirky.quirk, body, answer);
    } else {
      reply(202, answer);
    }
    for (const wake of this.waiters) wake();
  }

  private answerOddly(
    req: IncomingMessage,
    res: ServerResponse,
    quirk: FakePagerDutyQuirk,
    event: unknown,
    answer: Record<string, unknown>,
  ): void {
    const given =
      typeof quirk.body === 'function' ? quirk.body(event) : quirk.body;
    let text =
      given === undefined
        ? JSON.stringify(answer)
        : typeof given === 'string'
          ? given
          : JSON.stringify(given);
    if (quirk.bodyBytes && quirk.bodyBytes > text.length) {
      text =
        given === undefined
          ? JSON.stringify({
              ...answer,
              padding: 'x'.repeat(quirk.bodyBytes - text.length - 14),
            })
          : text + ' '.repeat(quirk.bodyBytes - text.length);
    }
    const payload = Buffer.from(text, 'utf8');
    res.on('error', () => undefined);
    res.writeHead(202, {
      ...(this.options.keepAlive ? {} : { Connection: 'close' }),
      'Content-Type':
        quirk.contentType ??
        (given === undefined || typeof given !== 'string'
          ? 'application/json'
          : 'text/plain'),
      ...(quirk.trickle ? {} : { 'Content-Length': String(payload.length) }),
    });
    if (quirk.resetAfterBytes !== undefined) {
      res.write(payload.subarray(0, quirk.resetAfterBytes));
      // let the status line and the first bytes leave before the RST
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        req.socket.resetAndDestroy();
      }, 50);
      this.timers.add(timer);
      return;
    }
    if (quirk.trickle) {
      const { chunks, everyMs } = quirk.trickle;
      const size = Math.ceil(payload.length / chunks);
      res.flushHeaders();
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || sent >= payload.length) {
          clearInterval(timer);
          this.timers.delete(timer);
          if (!res.destroyed) res.end();
          return;
        }
        res.write(payload.subarray(sent, sent + size));
        sent += size;
      }, everyMs);
      this.timers.add(timer);
      return;
    }
    res.end(payload);
  }
}

export async function startFakePagerDuty(port = 0): Promise<FakePagerDuty> {
  const fake = new FakePagerDuty();
  await fake.start(port);
  return fake;
}

function invalidEvent(errors: string[]) {
  return {
    status: 'invalid event',
    message: 'Event object is invalid',
    errors,
  };
}

function defaultFailureBody(status: number) {
  return { status: 'error', message: `Scripted failure ${status}` };
}

/** The checks PagerDuty makes before enqueueing (Events API v2 reference). */
function validateEvent(body: unknown, bytes: number): string[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return ['Event object must be a JSON object'];
  }
  const event = body as Record<string, unknown>;
  const errors: string[] = [];

  if (typeof event.routing_key !== 'string') {
    errors.push("'routing_key' is missing or blank");
  } else if (event.routing_key.length !== 32) {
    errors.push(
      "Length of 'routing_key' is incorrect (should be 32 characters)",
    );
  }

  const action = event.event_action;
  if (typeof action !== 'string' || !ACTIONS.has(action)) {
    errors.push(
      "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)",
    );
  }

  if (event.dedup_key !== undefined) {
    if (typeof event.dedup_key !== 'string') {
      errors.push("'dedup_key' must be a string");
    } else if (Array.from(event.dedup_key).length > 255) {
      errors.push("'dedup_key' is too long (maximum is 255 characters)");
    }
  }
  if (
    (action === 'acknowledge' || action === 'resolve') &&
    (typeof event.dedup_key !== 'string' || event.dedup_key === '')
  ) {
    errors.push(`'dedup_key' is required for ${action} events`);
  }

  if (action === 'trigger') {
    errors.push(...validatePayload(event.payload));
  }

  if (bytes > MAX_EVENT_BYTES) {
    errors.push(`Event is too large (${bytes} bytes, maximum is 512000)`);
  }
  return errors;
}

function validatePayload(payload: unknown): string[] {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    return ["'payload' is missing or not an object"];
  }
  const p = payload as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof p.summary !== 'string' || p.summary.trim() === '') {
    errors.push("'payload.summary' is missing or blank");
  } else if (Array.from(p.summary).length > 1024) {
    errors.push("'payload.summary' is too long (maximum is 1024 characters)");
  }
  if (typeof p.source !== 'string' || p.source.trim() === '') {
    errors.push("'payload.source' is missing or blank");
  }
  if (typeof p.severity !== 'string' || !SEVERITIES.has(p.severity)) {
    errors.push(
      "'payload.severity' is invalid (must be one of: critical, error, warning, info)",
    );
  }
  if (
    p.timestamp !== undefined &&
    (typeof p.timestamp !== 'string' || Number.isNaN(Date.parse(p.timestamp)))
  ) {
    errors.push("'payload.timestamp' is not a valid ISO 8601 timestamp");
  }
  return errors;
}
