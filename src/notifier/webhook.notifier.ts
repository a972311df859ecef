import type { Readable } from 'node:stream';
import type { AxiosInstance } from 'axios';
import { clampDelay, parseBody, readBounded } from './bounded.js';
import {
  NotifierError,
  type NotificationEvent,
  type Notifier,
} from './notifier.port.js';
import { NotifierAdapter } from './notifier-adapter.decorator.js';

/** JSON POST of each transition to `WEBHOOK_URL`; any 2xx is success. */
@NotifierAdapter()
export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';

  constructor(
    private readonly http: AxiosInstance,
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async send(event: NotificationEvent): Promise<{ response: unknown }> {
    const body = {
      event_action: event.action,
      dedup_key: event.incident.dedupKey,
      delivery_id: event.deliveryId,
      occurred_at: event.createdAt.toISOString(),
      incident: event.incident,
    };
    let status: number;
    let data: unknown;
    // One budget for the whole attempt, reading the answer included: a receiver that
    // trickles its body would otherwise hold the row (and a dispatcher slot) for ever.
    const abort = new AbortController();
    const timeout = clampDelay(this.timeoutMs);
    const deadline = setTimeout(() => abort.abort(), timeout);
    try {
      const res = await this.http.post<Readable>(this.url, body, {
        timeout,
        signal: abort.signal,
        validateStatus: () => true,
        headers: { 'content-type': 'application/json' },
        // bounded by hand: a buffered answer would be held whole in memory
        responseType: 'stream',
      });
      status = res.status;
      data =
        status >= 200 && status < 300
          ? null
          : parseBody(await readBounded(res.data, 16 * 1024, abort.signal));
      if (data === null) res.data.destroy();
    } catch (error) {
      throw new NotifierError(
        `webhook unreachable: ${(error as Error).message}`,
        true,
      );
    } finally {
      clearTimeout(deadline);
    }
    if (status >= 200 && status < 300) return { response: { status } };
    const retryable = status === 408 || status === 429 || status >= 500;
    throw new NotifierError(`webhook answered ${status}`, retryable, {
      status,
      body: data,
    });
  }
}
