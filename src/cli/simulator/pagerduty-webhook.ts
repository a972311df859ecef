import { createHmac, randomBytes, randomUUID } from 'node:crypto';

export interface SimulatedPagerDutyIncident {
  /** PagerDuty's incident id (`Q…`) and number */
  id: string;
  number: number;
  /** the dedup key the service sent */
  incidentKey: string;
}

/** A PagerDuty incident as the fake would create it for a trigger. */
export function simulatedIncident(
  incidentKey: string,
): SimulatedPagerDutyIncident {
  return {
    id: `Q${randomBytes(6).toString('hex').toUpperCase()}`,
    number: 1000 + Math.floor(Math.random() * 9000),
    incidentKey,
  };
}

/**
 * A V3 webhook delivery as PagerDuty posts it, signed with `secret`: the body as sent
 * (the bytes the signature covers) and its headers.
 */
export function pagerDutyWebhook(
  secret: string,
  eventType: string,
  incident: SimulatedPagerDutyIncident,
  options: { agent?: string; status: string; occurredAt?: Date },
): { body: string; headers: Record<string, string> } {
  const htmlUrl = `https://simulator.pagerduty.com/incidents/${incident.id}`;
  const body = JSON.stringify({
    event: {
      id: randomUUID(),
      event_type: eventType,
      resource_type: 'incident',
      occurred_at: (options.occurredAt ?? new Date()).toISOString(),
      agent: {
        id: 'PSIMUL8',
        type: 'user_reference',
        summary: options.agent ?? 'Simulated Responder',
        self: 'https://api.pagerduty.com/users/PSIMUL8',
        html_url: 'https://simulator.pagerduty.com/users/PSIMUL8',
      },
      client: null,
      data: {
        id: incident.id,
        type: 'incident',
        self: `https://api.pagerduty.com/incidents/${incident.id}`,
        html_url: htmlUrl,
        number: incident.number,
        status: options.status,
        incident_key: incident.incidentKey,
        title: 'alerting simulator',
        urgency: 'high',
      },
    },
  });
  const signature = createHmac('sha256', secret).update(body).digest('hex');
  return {
    body,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-pagerduty-signature': `v1=${signature}`,
      'user-agent': 'PagerDuty-Webhook/V3.0',
    },
  };
}
