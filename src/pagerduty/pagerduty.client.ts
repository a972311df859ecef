import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import {
  cutText,
  Deadline,
  EXCERPT_BYTES,
  MAX_TIMER_MS,
  parseBody,
  readBounded,
} from '../notifier/bounded.js';
import { NotifierError } from '../notifier/notifier.port.js';
import type { PagerDutyEvent } from './pagerduty-event.builder.js';

export interface PagerDutyClientOptions {
  /** a function is read on every send, so a runtime config change applies to the next event */
  eventsUrl: string | (() => string);
  /** whole-request budget, connect included; default 10 s */
  timeoutMs?: number;
}

export interface PagerDutyAccepted {
  status: 202;
  body: unknown;
}

/** PagerDuty's answer to an event it refused (`400`). */
export interface PagerDutyErrorBody {
  status?: string;
  message?: string;
  errors?: unknown[];
}

export const DEFAULT_PAGERDUTY_TIMEOUT_MS = 10_000;

/** PagerDuty's refusals are a few hundred bytes; more than this is not PagerDuty talking. */
const ERROR_BODY_READ_BYTES = 16 * 1024;

const NETWORK_TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ABORT_ERR']);

/**
 * Events API v2 over undici (the HTTP client Node's fetch is built on), a pool of
 * kept-alive connections to the events URL's origin. axios cost about a seventh of the process's CPU
 * while delivering a backlog, and Node's `http.request` twice undici's CPU per POST
 * (63 against 31 µs on a local fake): both do per-request work this one POST does not need.
 */
export class PagerDutyClient {
  private readonly eventsUrl: () => string;
  private readonly timeoutMs: number;
  private parsed?: {
    url: string;
    origin: string;
    pool: Pool;
    path: string;
    headers: Record<string, string>;
  };

  constructor(opts: PagerDutyClientOptions) {
    const url = opts.eventsUrl;
    this.eventsUrl = typeof url === 'function' ? url : () => url;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PAGERDUTY_TIMEOUT_MS;
  }

  /**
   * Resolves only on `202`. Everything else throws a {@link NotifierError} whose
   * `retryable` follows the README (How delivery works) and whose message never carries the routing key.
   */
  async send(event: PagerDutyEvent): Promise<PagerDutyAccepted> {
    const scrub = secretScrubber(event.routing_key);
    // The deadline caps the whole attempt, connecting and reading the answer included, and
    // is cleared once the answer is read (AbortSignal.timeout() kept every send's signal
    // and timer alive for the full 10 s: ~22 MB at a backlog drain's 2,000 sends/s). undici
    // takes an EventEmitter as its signal: cheaper than an AbortController's EventTarget.
    const abort = new EventEmitter();
    const deadline = new Deadline(this.timeoutMs, () => abort.emit('abort'));
    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.post(
          this.eventsUrl(),
          JSON.stringify(event),
          abort,
        );
      } catch (error) {
        throw this.transportError(error, scrub, deadline.hasPassed);
      }
      // Every status reaches us, redirects included (following one would turn the POST into
      // a GET). A 202 is the whole answer PagerDuty owes us; only its excerpt is kept. Other
      // statuses carry the reason (message, errors) the operator needs, so more is read.
      const status = response.statusCode;
      const limit = status === 202 ? EXCERPT_BYTES : ERROR_BODY_READ_BYTES;
      const body = parseBody(await readBounded(response.body, limit, deadline));
      return this.interpret(
        status,
        response.headers as IncomingHttpHeaders,
        body,
        scrub,
      );
    } finally {
      deadline.clear();
    }
  }

  /** The POST, answered with the response head; its body is read (bounded) by the caller. */
  private post(
    url: string,
    body: string,
    signal: EventEmitter,
  ): Promise<Dispatcher.ResponseData> {
    const target = this.target(url);
    return target.pool.request({
      path: target.path,
      method: 'POST',
      headers: target.headers,
      body,
      signal,
    });
  }

  /**
   * The events URL parsed once per distinct value, not once per send. A new origin gets
   * a new pool; the previous one closes once its sends in flight have finished.
   */
  private target(url: string): NonNullable<PagerDutyClient['parsed']> {
    if (this.parsed?.url !== url) {
      const target = new URL(url);
      if (target.protocol !== 'https:' && target.protocol !== 'http:')
        throw new Error(`unsupported protocol ${target.protocol}`);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
      };
      // credentials in the URL (a gateway in front of PagerDuty) go as Basic auth, as Node's http sent them
      if (target.username || target.password) {
        const user = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
        headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
      }
      const previous = this.parsed;
      const pool =
        previous?.origin === target.origin
          ? previous.pool
          : new Pool(target.origin);
      if (previous && previous.pool !== pool)
        previous.pool.close().catch(() => undefined);
      this.parsed = {
        url,
        origin: target.origin,
        pool,
        path: `${target.pathname}${target.search}`,
        headers,
      };
    }
    return this.parsed;
  }

  private interpret(
    status: number,
    headers: IncomingHttpHeaders,
    body: unknown,
    scrub: (text: string) => string,
  ): PagerDutyAccepted {
    // The status line is PagerDuty's word: a body cut short, slow or not JSON changes nothing.
    if (status === 202) return { status: 202, body };

    if (status === 400) {
      const refused = asErrorBody(body);
      const reasons = Array.isArray(refused.errors)
        ? refused.errors.map(String).join('; ')
        : '';
      const message = cutText(
        `PagerDuty rejected the event (400): ${typeof refused.message === 'string' ? refused.message : 'invalid event'}` +
          (reasons ? ` — ${reasons}` : ''),
      );
      return fail(scrub(message), false, { status, body });
    }

    if (status === 429) {
      const header: unknown = headers['retry-after'];
      const retryAfterMs = parseRetryAfter(header);
      // The header as given (cut): the dispatcher caps the delay it actually waits.
      const given =
        typeof header === 'string'
          ? `, Retry-After: ${cutText(header.replace(/[^\x20-\x7e]/g, '?'), 64)}`
          : '';
      return fail(`PagerDuty throttled the event (429)${given}`, true, {
        status,
        body,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }

    if (status === 408 || status >= 500) {
      return fail(
        scrub(`PagerDuty answered ${status}${describeBody(body)}`),
        true,
        { status, body },
      );
    }

    if (status >= 400) {
      return fail(
        scrub(`PagerDuty refused the event (${status})${describeBody(body)}`),
        false,
        { status, body },
      );
    }

    // PagerDuty accepts an event with 202 only; a 200 or 3xx means something else
    // (a proxy, a captive portal, a wrong URL) answered, and the event may not be queued.
    return fail(
      scrub(
        `unexpected PagerDuty status ${status}: only 202 means the event was accepted${describeBody(body)}`,
      ),
      true,
      { status, body },
    );
  }

  private transportError(
    error: unknown,
    scrub: (text: string) => string,
    timedOut: boolean,
  ): NotifierError {
    if (error instanceof NotifierError) return error;
    const code = (error as { code?: string } | undefined)?.code;
    if (
      timedOut ||
      (code && NETWORK_TIMEOUT_CODES.has(code)) ||
      (error as Error | undefined)?.name === 'TimeoutError'
    ) {
      return new NotifierError(
        `PagerDuty did not answer within ${this.timeoutMs} ms`,
        true,
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    return new NotifierError(
      scrub(`could not reach PagerDuty${code ? ` (${code})` : ''}: ${reason}`),
      true,
    );
  }
}

function fail(
  message: string,
  retryable: boolean,
  details: NonNullable<NotifierError['details']>,
): never {
  throw new NotifierError(message, retryable, details);
}

function asErrorBody(body: unknown): PagerDutyErrorBody {
  if (body && typeof body === 'object') return body as PagerDutyErrorBody;
  if (typeof body === 'string' && body) return { message: body.slice(0, 500) };
  return {};
}

function describeBody(body: unknown): string {
  const message = asErrorBody(body).message;
  return message ? `: ${String(message).slice(0, 500)}` : '';
}

/**
 * `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3); anything else
 * (negative, garbage) is no advice at all. The result is finite but may be huge (years):
 * the dispatcher caps it at `DELIVERY_RETRY_MAX`.
 */
export function parseRetryAfter(
  header: unknown,
  now: number = Date.now(),
): number | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const value = header.trim();
  if (/^\d+(\.\d+)?$/.test(value)) {
    const ms = Math.round(Number(value) * 1000);
    return Number.isFinite(ms) ? ms : MAX_TIMER_MS;
  }
  // Date.parse alone takes "-5" or "1 2" for dates; an HTTP date starts with a day name.
  if (!/^[A-Za-z]{3,9},? /.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function secretScrubber(routingKey: string): (text: string) => string {
  if (!routingKey) return (text) => text;
  const masked = `****${routingKey.slice(-4)}`;
  return (text) => text.split(routingKey).join(masked);
}
