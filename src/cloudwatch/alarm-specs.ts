import type {
  ComparisonOperator,
  Statistic,
  StandardUnit,
} from '@aws-sdk/client-cloudwatch';

export interface AlarmDimension {
  name: string;
  value: string;
}

export type TreatMissingData =
  'breaching' | 'notBreaching' | 'ignore' | 'missing';

/** One metric alarm as code; the manager turns it into `PutMetricAlarm`. */
export interface AlarmSpec {
  alarmName: string;
  /** starts with `[CRITICAL]`, `[WARNING]`, … : the mapper reads severity from it */
  alarmDescription: string;
  namespace: string;
  metricName: string;
  dimensions: AlarmDimension[];
  /** exactly one of `statistic` and `extendedStatistic` (e.g. `p95`) */
  statistic?: Statistic;
  extendedStatistic?: string;
  /**
   * Left unset by the built-in specs: an alarm whose unit differs from the one the
   * metric is published with never sees data and sits in INSUFFICIENT_DATA.
   */
  unit?: StandardUnit;
  /** seconds */
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm?: number;
  threshold: number;
  comparisonOperator: ComparisonOperator;
  treatMissingData: TreatMissingData;
  alarmActions: string[];
  okActions: string[];
  insufficientDataActions?: string[];
}

export const HYBRID_ROUTING_NAMESPACE = 'AI/Orchestrator/HybridRouting';

export const HYBRID_ROUTING_ALARMS = [
  'high-failure-rate',
  'high-latency',
  'cost-threshold',
] as const;
export type HybridRoutingAlarm = (typeof HYBRID_ROUTING_ALARMS)[number];

export type AlarmSpecOverride = Partial<Omit<AlarmSpec, 'alarmName'>>;

export interface HybridRoutingAlarmOptions {
  environment: string;
  snsTopicArn: string;
  namespace?: string;
  overrides?: Partial<Record<HybridRoutingAlarm, AlarmSpecOverride>>;
}

/** `<env>-hybrid-routing-`: every managed alarm name starts with it. */
export function hybridRoutingAlarmPrefix(environment: string): string {
  return `${environment}-hybrid-routing-`;
}

/**
 * The three hybrid-routing alarms for one environment. Alarm and metric names match the
 * alert templates of the same name, so an alarm and a template alert for the same
 * condition land on the same incident (`<env>-hybrid-routing-high-failure-rate-
 * SupportModeSuccessRate`).
 */
export function hybridRoutingAlarmSpecs(
  options: HybridRoutingAlarmOptions,
): AlarmSpec[] {
  const { environment, snsTopicArn } = options;
  const namespace = options.namespace ?? HYBRID_ROUTING_NAMESPACE;
  const prefix = hybridRoutingAlarmPrefix(environment);
  const common = {
    namespace,
    dimensions: [{ name: 'Environment', value: environment }],
    alarmActions: [snsTopicArn],
    okActions: [snsTopicArn],
    // No traffic is not an outage; a breaching default would page every quiet night.
    treatMissingData: 'notBreaching' as const,
  };
  const base: Record<
    HybridRoutingAlarm,
    Omit<AlarmSpec, 'alarmDescription'>
  > = {
    'high-failure-rate': {
      ...common,
      alarmName: `${prefix}high-failure-rate`,
      metricName: 'SupportModeSuccessRate',
      statistic: 'Average',
      period: 300,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      threshold: 95,
      comparisonOperator: 'LessThanThreshold',
    },
    'high-latency': {
      ...common,
      alarmName: `${prefix}high-latency`,
      metricName: 'RoutingLatency',
      extendedStatistic: 'p95',
      period: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      threshold: 5000,
      comparisonOperator: 'GreaterThanThreshold',
    },
    'cost-threshold': {
      ...common,
      alarmName: `${prefix}cost-threshold`,
      metricName: 'RoutingCost',
      statistic: 'Sum',
      period: 3600,
      evaluationPeriods: 1,
      threshold: 100,
      comparisonOperator: 'GreaterThanThreshold',
    },
  };
  // Built after the overrides so an overridden threshold never leaves a stale number
  // in the text on-call reads.
  const describe: Record<HybridRoutingAlarm, (threshold: number) => string> = {
    'high-failure-rate': (t) =>
      `[CRITICAL] Hybrid routing success rate below ${t}% in ${environment}`,
    'high-latency': (t) =>
      `[WARNING] Hybrid routing p95 latency above ${t} ms in ${environment}`,
    'cost-threshold': (t) =>
      `[WARNING] Hybrid routing cost above ${t} USD per hour in ${environment}`,
  };
  return HYBRID_ROUTING_ALARMS.map((key) => {
    const spec = { ...base[key], ...options.overrides?.[key] };
    return {
      ...spec,
      alarmDescription:
        options.overrides?.[key]?.alarmDescription ??
        describe[key](spec.threshold),
    };
  });
}
