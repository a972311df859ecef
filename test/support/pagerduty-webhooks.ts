import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const WEBHOOK_SECRET = 'test-webhook-secret-7c1e5a9b3d';
export const WEBHOOK_PATH = '/v1/pagerduty/webhooks';

export type WebhookFixture =
  | 'incident.triggered'
  | 'incident.acknowledged'
  | 'incident.unacknowledged'
  | 'incident.resolved'
  | 'incident.reopened'
  | 'pagey.ping';

export function webhookFixture(name: WebhookFixture): any {
  return JSON.parse(
    readFileSync(
      new URL(`../fixtures/pagerduty/webhooks/${name}.json`, import.meta.url),
      'utf8',
    ),
  );
}

/** `v1=` + HMAC-SHA256 of the exact bytes, as PagerDuty signs. */
export function signature(body: string, secret = WEBHOOK_SECRET): string {
  return `v1=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface WebhookOptions {
  /** event.data.incident_key: the dedup key as we sent it */
  key: string;
  /** event.id; a fresh one by default */
  id?: string;
  /** event.occurred_at; now by default */
  at?: Date;
  /** event.data.id, the PagerDuty incident */
  pagerDutyIncident?: string;
}

/** A fixture made about one of our incidents: the body as sent (bytes to sign) and its parts. */
export function webhook(name: WebhookFixture, options: WebhookOptions) {
  const payload = webhookFixture(name);
  payload.event.id = options.id ?? randomUUID();
  payload.event.occurred_at = (options.at ?? new Date()).toISOString();
  if (payload.event.data?.type === 'incident') {
    payload.event.data.incident_key = options.key;
    if (options.pagerDutyIncident) {
      const id = options.pagerDutyIncident;
      payload.event.data.id = id;
      payload.event.data.self = `https://api.pagerduty.com/incidents/${id}`;
      payload.event.data.html_url = `https://acme-ops.pagerduty.com/incidents/${id}`;
    }
  }
  return { payload, body: JSON.stringify(payload) };
}
