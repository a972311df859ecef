import {
  NotifierError,
  type NotificationEvent,
  type Notifier,
  type NotifierResult,
} from '../notifier/notifier.port.js';
import { NotifierAdapter } from '../notifier/notifier-adapter.decorator.js';
import {
  buildPagerDutyEvent,
  type PagerDutyEventOptions,
} from './pagerduty-event.builder.js';
import type { PagerDutyClient } from './pagerduty.client.js';
import { TokenBucket } from './token-bucket.js';

export interface PagerDutyNotifierOptions {
  client: PagerDutyClient;
  /** a function is read on every send, so a runtime config change applies to the next event */
  eventOptions: PagerDutyEventOptions | (() => PagerDutyEventOptions);
  /** events per minute per routing key; `0` turns the limit off. A function is read on every send. */
  ratePerMinute: number | (() => number);
  /** milliseconds; injected so tests control the token bucket */
  now?: () => number;
  /** the routing key in force now, kept with each incident as it triggers */
  routingKey?: () => Promise<string | null>;
}

/**
 * Events API v2 adapter: builds the event (CONTRACT §3), spends a token from the routing
 * key's bucket, posts it.
 *
 * Without a token it throws a retryable {@link NotifierError} carrying `retryAfterMs`
 * instead of sleeping: the dispatcher owns scheduling and per-key ordering, and a sleeping
 * adapter would hold a claimed outbox row (and its lease) while doing nothing.
 */
@NotifierAdapter()
export class PagerDutyNotifier implements Notifier {
  readonly name = 'pagerduty';

  private readonly client: PagerDutyClient;
  private readonly eventOptions: () => PagerDutyEventOptions;
  private readonly ratePerMinute: () => number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly routingKey?: () => Promise<string | null>;

  constructor(opts: PagerDutyNotifierOptions) {
    this.client = opts.client;
    const eventOptions = opts.eventOptions;
    this.eventOptions =
      typeof eventOptions === 'function' ? eventOptions : () => eventOptions;
    const rate = opts.ratePerMinute;
    this.ratePerMinute = typeof rate === 'function' ? rate : () => rate;
    this.now = opts.now ?? Date.now;
    this.routingKey = opts.routingKey;
  }

  async context(): Promise<{ routingKey: string } | null> {
    const routingKey = await this.routingKey?.();
    return routingKey ? { routingKey } : null;
  }

  async send(event: NotificationEvent): Promise<NotifierResult> {
    const key = event.context?.routingKey;
    const routingKey = typeof key === 'string' && key ? key : null;
    if (!routingKey) {
      throw new NotifierError('no PagerDuty routing key configured', false);
    }
    const pdEvent = buildPagerDutyEvent(
      { ...event, routingKey },
      this.eventOptions(),
    );
    this.takeToken(routingKey);
    const accepted = await this.client.send(pdEvent);
    return { response: accepted };
  }

  private takeToken(routingKey: string): void {
    const rate = this.ratePerMinute();
    if (!(rate > 0)) return;

    let bucket = this.buckets.get(routingKey);
    // A rate changed at runtime starts a fresh bucket rather than rescaling the old one.
    if (!bucket || bucket.ratePerMinute !== rate) {
      bucket = new TokenBucket({ ratePerMinute: rate, now: this.now });
      this.buckets.set(routingKey, bucket);
    }
    const take = bucket.tryTake();
    if (!take.granted) {
      throw new NotifierError(
        `PagerDuty rate limit reached (${rate} events per minute per routing key); next slot in ${take.retryAfterMs} ms`,
        true,
        { retryAfterMs: take.retryAfterMs, throttled: true },
      );
    }
  }
}
