import { BadRequestException } from '@nestjs/common';

/** The incident event types that change ours; every other type is acknowledged and ignored. */
export const APPLIED_EVENT_TYPES = [
  'incident.triggered',
  'incident.acknowledged',
  'incident.unacknowledged',
  'incident.resolved',
] as const;
export type AppliedEventType = (typeof APPLIED_EVENT_TYPES)[number];

/** What we use of a V3 webhook's `event`; PagerDuty sends much more, which we ignore. */
export interface PagerDutyWebhookEvent {
  id: string;
  eventType: string;
  /** ISO 8601, normalized to UTC milliseconds so it compares as text with our timestamps */
  occurredAt: string;
  /** `agent.summary`: who did it (a user's name, or the service for automatic changes) */
  agent: string | null;
  incident?: {
    id: string;
    number: number | null;
    htmlUrl: string | null;
    /** the dedup key as we sent it */
    incidentKey: string;
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isApplied = (type: string): type is AppliedEventType =>
  (APPLIED_EVENT_TYPES as readonly string[]).includes(type);

/**
 * Reads the fields we rely on and names every one that is missing or malformed (`400`).
 * Only the types we apply need `occurred_at` and an incident in `data`: a `pagey.ping`
 * or a `service.updated` is acknowledged whatever else it carries.
 */
export function parsePagerDutyWebhook(body: unknown): PagerDutyWebhookEvent {
  const errors: string[] = [];
  const event = isObject(body) ? body.event : undefined;
  if (!isObject(event))
    throw new BadRequestException(['event must be an object']);
  const { id, event_type: eventType, occurred_at, agent, data } = event;
  if (typeof id !== 'string' || id.length === 0 || id.length > 64)
    errors.push('event.id must be a string of 1 to 64 characters');
  if (typeof eventType !== 'string' || eventType.length === 0)
    errors.push('event.event_type must be a non-empty string');
  if (errors.length > 0) throw new BadRequestException(errors);
  const parsed: PagerDutyWebhookEvent = {
    id: id as string,
    eventType: eventType as string,
    occurredAt: '',
    agent:
      isObject(agent) && typeof agent.summary === 'string'
        ? agent.summary
        : null,
  };
  if (!isApplied(parsed.eventType)) return parsed;

  const at =
    typeof occurred_at === 'string' ? new Date(occurred_at) : undefined;
  if (!at || Number.isNaN(at.getTime()))
    errors.push('event.occurred_at must be an ISO 8601 date-time');
  else parsed.occurredAt = at.toISOString();
  if (!isObject(data)) {
    errors.push('event.data must be an object');
    throw new BadRequestException(errors);
  }
  const { id: incidentId, number, html_url, incident_key } = data;
  if (typeof incidentId !== 'string' || incidentId.length === 0)
    errors.push('event.data.id must be a non-empty string');
  if (typeof incident_key !== 'string' || incident_key.length === 0)
    errors.push('event.data.incident_key must be a non-empty string');
  if (number != null && !Number.isSafeInteger(number))
    errors.push('event.data.number must be an integer');
  if (
    html_url != null &&
    (typeof html_url !== 'string' ||
      html_url.length > 2048 ||
      !/^https?:\/\/\S+$/.test(html_url))
  )
    errors.push(
      'event.data.html_url must be an http(s) URL of at most 2048 characters',
    );
  if (errors.length > 0) throw new BadRequestException(errors);
  parsed.incident = {
    id: incidentId as string,
    number: (number as number | null | undefined) ?? null,
    htmlUrl: (html_url as string | null | undefined) ?? null,
    incidentKey: incident_key as string,
  };
  return parsed;
}
