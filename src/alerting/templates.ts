import type { AlertInput } from './alert.types.js';
import type { TemplateAlertDto } from './dto/alert.dto.js';

export const TEMPLATE_NAMES = [
  'high-failure-rate',
  'high-latency',
  'cost-threshold',
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

type TemplateFn = (
  input: TemplateAlertDto & { environment: string },
) => AlertInput;

/**
 * The built-in alerts of the hybrid-routing orchestrator. Metric names match the alarm
 * specs in cloudwatch/alarm-specs.ts, so a template alert and its CloudWatch alarm share
 * a dedup key.
 */
const TEMPLATES: Record<TemplateName, TemplateFn> = {
  'high-failure-rate': ({ environment, threshold, currentValue }) => ({
    severity: 'CRITICAL',
    alarmName: `${environment}-hybrid-routing-high-failure-rate`,
    metricName: 'SupportModeSuccessRate',
    threshold,
    currentValue,
    environment,
    class: 'performance',
    description: `Success rate has fallen below ${threshold}%. Current: ${currentValue}%`,
    recommendations: [
      'Check hybrid routing health status',
      'Review recent deployment changes',
      'Verify MCP and direct Bedrock connectivity',
      'Check circuit breaker status',
      'Review error logs for patterns',
    ],
  }),
  'high-latency': ({ environment, threshold, currentValue }) => ({
    severity: 'WARNING',
    alarmName: `${environment}-hybrid-routing-high-latency`,
    metricName: 'RoutingLatency',
    threshold,
    currentValue,
    environment,
    class: 'performance',
    description: `P95 routing latency is above ${threshold}ms. Current: ${currentValue}ms`,
    recommendations: [
      'Check Bedrock and MCP response times',
      'Review routing decisions for unnecessary fallbacks',
      'Check for throttling on downstream providers',
      'Verify connection pool and cache hit rates',
      'Consider scaling the routing tier',
    ],
  }),
  'cost-threshold': ({ environment, threshold, currentValue }) => ({
    severity: 'WARNING',
    alarmName: `${environment}-hybrid-routing-cost-threshold`,
    metricName: 'RoutingCost',
    threshold,
    currentValue,
    environment,
    class: 'cost',
    description: `Routing cost has exceeded ${threshold}. Current: ${currentValue}`,
    recommendations: [
      'Review model selection: route simple requests to cheaper models',
      'Check for retry storms multiplying requests',
      'Enable or tune response caching',
      'Review token usage per request and trim prompts',
      'Set per-tenant budgets and quotas',
    ],
  }),
};

export function isTemplateName(name: string): name is TemplateName {
  return (TEMPLATE_NAMES as readonly string[]).includes(name);
}

export function renderTemplate(
  name: TemplateName,
  input: TemplateAlertDto,
  defaultEnvironment: string,
): AlertInput {
  return TEMPLATES[name]({
    ...input,
    environment: input.environment ?? defaultEnvironment,
  });
}
