import type { AxiosInstance } from 'axios';
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
    try {
      const res = await this.http.post(this.url, body, {
        timeout: this.timeoutMs,
        validateStatus: () => true,
        headers: { 'content-type': 'application/json' },
      });
      status = res.status;
      data = res.data;
    } catch (error) {
      throw new NotifierError(
        `webhook unreachable: ${(error as Error).message}`,
        true,
      );
    }
    if (status >= 200 && status < 300) return { response: { status } };
    const retryable = status === 408 || status === 429 || status >= 500;
    throw new NotifierError(`webhook answered ${status}`, retryable, {
      status,
      body: data,
    });
  }
}
