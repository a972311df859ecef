import { ConfigValidationError } from '../config/alerting.config.js';

export const PAGERDUTY_OPTIONS = Symbol('PAGERDUTY_OPTIONS');

/** Options of {@link PagerDutyModule.forRoot}; the routing key can also be changed at runtime. */
export interface PagerDutyOptions {
  /** the Events API v2 integration key (32 characters); `PATCH /v1/config/pagerduty` may replace it */
  routingKey?: string;
  /** default `https://events.pagerduty.com/v2/enqueue` */
  eventsUrl?: string;
  serviceName?: string;
  escalationPolicyId?: string;
  /** the event's `client` and `client_url` */
  client?: string;
  clientUrl?: string;
  /** events per minute per routing key; 0 turns the limit off; default 120 */
  rateLimitPerMinute?: number;
}

export interface PagerDutySettingsDefaults {
  routingKey?: string;
  eventsUrl: string;
  serviceName: string;
  escalationPolicyId?: string;
  client: string;
  clientUrl?: string;
  rateLimitPerMinute: number;
}

export function resolvePagerDutyOptions(
  o: PagerDutyOptions = {},
): PagerDutySettingsDefaults {
  const problems: string[] = [];
  if (o.routingKey !== undefined && o.routingKey.length !== 32)
    problems.push(
      'routingKey: must be exactly 32 characters (a PagerDuty integration key)',
    );
  const rate = o.rateLimitPerMinute ?? 120;
  if (!Number.isInteger(rate) || rate < 0)
    problems.push('rateLimitPerMinute: must be an integer of 0 or more');
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return {
    routingKey: o.routingKey,
    eventsUrl: o.eventsUrl ?? 'https://events.pagerduty.com/v2/enqueue',
    serviceName: o.serviceName ?? 'Hybrid Routing Alerts',
    escalationPolicyId: o.escalationPolicyId,
    client: o.client ?? 'orchestrator-alerting',
    clientUrl: o.clientUrl,
    rateLimitPerMinute: rate,
  };
}
