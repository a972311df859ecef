import { createHash } from 'node:crypto';
import type {
  AlertInput,
  AlertLink,
  IngestItem,
  Severity,
} from '../alerting/alert.types.js';
import { ALERT_LIMITS } from '../alerting/dto/alert.dto.js';
import { truncate } from '../alerting/truncate.js';
import { CloudWatchMappingError } from './cloudwatch-mapping.error.js';

export { truncate } from '../alerting/truncate.js';

export { CloudWatchMappingError } from './cloudwatch-mapping.error.js';

export interface AlarmMappingDefaults {
  environment: string;
}

export type AlarmStateValue = 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';

// AWS caps alarm names at 255 and descriptions at 1024; NewStateReason has no documented
// cap. Free text is fitted to the alert's limits here; everything else is validated with
// every other edge's alerts, and a bad field is a 400.
export const ALARM_NAME_MAX = ALERT_LIMITS.alarmName;
export const DESCRIPTION_MAX = ALERT_LIMITS.description;
export const DEDUP_KEY_MAX = ALERT_LIMITS.dedupKey;
export const EVENTBRIDGE_STATE_CHANGE = 'CloudWatch Alarm State Change';

const STATES: ReadonlySet<string> = new Set([
  'ALARM',
  'OK',
  'INSUFFICIENT_DATA',
]);
const SEVERITY_TAG = /\[(CRITICAL|ERROR|WARNING|INFO)\]/i;
const REGION = /^[a-z]{2,}(-[a-z]+)+-\d+$/;

/**
 * Both sources (SNS alarm message, EventBridge event) normalised to one shape, so the
 * alert rules live in one place.
 */
interface AlarmStateChange {
  source: 'sns' | 'eventbridge';
  alarmName: string;
  alarmArn?: string;
  accountId?: string;
  region?: string;
  alarmDescription?: string;
  newState: AlarmStateValue;
  oldState?: string;
  reason?: string;
  stateChangeTime?: string;
  threshold?: number;
  currentValue?: number;
  comparisonOperator?: string;
  metric?: AlarmMetric;
  alarmRule?: string;
  extra: Record<string, unknown>;
}

interface AlarmMetric {
  /** what the dedup key uses: the metric name, or the id of a math expression */
  key: string;
  namespace?: string;
  dimensions?: Record<string, string>;
  expression?: string;
  label?: string;
}

/**
 * Maps the JSON inside an SNS `Message` of a CloudWatch alarm notification (string or
 * parsed) to an alert. Rules: the README (CloudWatch and SNS).
 *
 * - `ALARM` → `status: 'firing'`, `OK` → `'resolved'`, `INSUFFICIENT_DATA` → no status
 *   and `meta.recordOnly: true`. `environment` is always `defaults.environment`.
 * - Severity: the first `[CRITICAL]`/`[ERROR]`/`[WARNING]`/`[INFO]` tag (any case) in
 *   `AlarmDescription`, else CRITICAL: an untagged alarm is more likely a forgotten tag
 *   than a harmless one.
 * - `description` is `NewStateReason` (it carries the value that crossed the threshold
 *   and changes on every transition); the alarm's own description, tag removed, is kept
 *   in `customDetails.alarmDescription`.
 * - Metric-math alarms key on the first `ReturnData: true` query that reads a metric
 *   (its `MetricName`), else on the id of the first returned expression; composite
 *   alarms (no `Trigger`) key on the alarm name alone.
 */
export function mapCloudWatchAlarmMessage(
  message: unknown,
  defaults: AlarmMappingDefaults,
): IngestItem {
  const m = asRecord(parseIfString(message));
  if (m && m.Type === 'Notification' && typeof m.Message === 'string') {
    throw new CloudWatchMappingError(
      'not-an-alarm',
      'got the SNS envelope: pass the alarm message from its Message field',
    );
  }
  if (!m || typeof m.AlarmName !== 'string' || m.AlarmName === '') {
    throw new CloudWatchMappingError(
      'not-an-alarm',
      'not a CloudWatch alarm message: AlarmName is missing',
    );
  }
  if (typeof m.NewStateValue !== 'string') {
    throw new CloudWatchMappingError(
      'not-an-alarm',
      'not a CloudWatch alarm message: NewStateValue is missing',
    );
  }
  const newState = checkState(m.NewStateValue, m.AlarmName);
  const trigger = asRecord(m.Trigger);
  const alarmArn = str(m.AlarmArn);
  const reason = str(m.NewStateReason);
  const extra: Record<string, unknown> = {};
  if (trigger) {
    extra.statistic = str(trigger.ExtendedStatistic) ?? str(trigger.Statistic);
    extra.period = num(trigger.Period);
    extra.evaluationPeriods = num(trigger.EvaluationPeriods);
    extra.unit = str(trigger.Unit);
  }
  const triggering = Array.isArray(m.TriggeringChildren)
    ? m.TriggeringChildren
    : undefined;
  if (triggering) extra.triggeringChildren = triggering;

  return toIngestItem(
    {
      source: 'sns',
      alarmName: m.AlarmName,
      alarmArn,
      accountId: str(m.AWSAccountId) ?? arnPart(alarmArn, 4),
      region: regionFromArn(alarmArn),
      alarmDescription: str(m.AlarmDescription),
      newState,
      oldState: str(m.OldStateValue),
      reason,
      stateChangeTime: str(m.StateChangeTime),
      threshold: trigger ? num(trigger.Threshold) : undefined,
      currentValue: reason ? valueFromReason(reason) : undefined,
      comparisonOperator: trigger ? str(trigger.ComparisonOperator) : undefined,
      metric: trigger ? snsMetric(trigger) : undefined,
      alarmRule: str(m.AlarmRule),
      extra,
    },
    defaults,
  );
}

/**
 * Maps an EventBridge "CloudWatch Alarm State Change" event (same rules as SNS). Other
 * detail-types throw `CloudWatchMappingError` with code `unsupported-detail-type`.
 */
export function mapEventBridgeAlarmEvent(
  event: unknown,
  defaults: AlarmMappingDefaults,
): IngestItem {
  const e = asRecord(parseIfString(event));
  const detailType = e ? e['detail-type'] : undefined;
  if (!e || typeof detailType !== 'string') {
    throw new CloudWatchMappingError(
      'not-an-alarm',
      'not an EventBridge event: detail-type is missing',
    );
  }
  if (detailType !== EVENTBRIDGE_STATE_CHANGE) {
    throw new CloudWatchMappingError(
      'unsupported-detail-type',
      `unsupported EventBridge detail-type "${detailType}": only "${EVENTBRIDGE_STATE_CHANGE}" is accepted`,
    );
  }
  const detail = asRecord(e.detail);
  const alarmName = detail ? str(detail.alarmName) : undefined;
  const state = detail ? asRecord(detail.state) : undefined;
  if (!detail || !alarmName || !state || typeof state.value !== 'string') {
    throw new CloudWatchMappingError(
      'not-an-alarm',
      'not a CloudWatch alarm state change: detail.alarmName and detail.state.value are required',
    );
  }
  const newState = checkState(state.value, alarmName);
  const previous = asRecord(detail.previousState);
  const config = asRecord(detail.configuration) ?? {};
  const resources = Array.isArray(e.resources) ? e.resources : [];
  const alarmArn = resources
    .map(str)
    .find((r) => r !== undefined && r.includes(':alarm:'));
  const eventRegion = str(e.region);
  const reasonData = parseReasonData(state.reasonData);
  const reason = str(state.reason);
  const datapoints = reasonData?.recentDatapoints;
  const lastDatapoint = Array.isArray(datapoints)
    ? num(datapoints[datapoints.length - 1])
    : undefined;
  const extra: Record<string, unknown> = {};
  if (str(state.actionsSuppressedBy))
    extra.actionsSuppressedBy = state.actionsSuppressedBy;

  return toIngestItem(
    {
      source: 'eventbridge',
      alarmName,
      alarmArn,
      accountId: str(e.account) ?? arnPart(alarmArn, 4),
      region:
        eventRegion && REGION.test(eventRegion)
          ? eventRegion
          : regionFromArn(alarmArn),
      alarmDescription: str(config.description),
      newState,
      oldState: previous ? str(previous.value) : undefined,
      reason,
      stateChangeTime: str(state.timestamp) ?? str(e.time),
      threshold: num(config.threshold) ?? num(reasonData?.threshold),
      currentValue:
        lastDatapoint ?? (reason ? valueFromReason(reason) : undefined),
      comparisonOperator: str(config.comparisonOperator),
      metric: eventBridgeMetric(config.metrics),
      alarmRule: str(config.alarmRule),
      extra,
    },
    defaults,
  );
}

/**
 * `StateChangeTime` looks like `2019-12-05T17:13:21.587+0000`, which `Date.parse` does
 * not accept everywhere (no colon in the offset); also takes `Z` and `+00:00`.
 */
export function parseCloudWatchTimestamp(value: unknown): Date | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const normalised = value.trim().replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(normalised);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

export function severityFromDescription(description: unknown): Severity {
  const match =
    typeof description === 'string' ? SEVERITY_TAG.exec(description) : null;
  return match ? (match[1].toUpperCase() as Severity) : 'CRITICAL';
}

function toIngestItem(
  c: AlarmStateChange,
  defaults: AlarmMappingDefaults,
): IngestItem {
  const transitionAt = parseCloudWatchTimestamp(c.stateChangeTime);
  const alarmName = truncate(c.alarmName, ALARM_NAME_MAX);
  const metricName = c.metric
    ? truncate(c.metric.key, ALARM_NAME_MAX)
    : undefined;
  const strippedDescription = c.alarmDescription
    ?.replace(SEVERITY_TAG, '')
    .trim();
  const description = c.reason ?? strippedDescription;

  const alert: AlertInput = {
    severity: severityFromDescription(c.alarmDescription),
    alarmName,
    environment: defaults.environment,
    dedupKey: dedupKey(c.alarmName, c.metric?.key),
  };
  if (c.newState === 'ALARM') alert.status = 'firing';
  if (c.newState === 'OK') alert.status = 'resolved';
  if (metricName !== undefined) alert.metricName = metricName;
  if (c.threshold !== undefined) alert.threshold = c.threshold;
  if (c.currentValue !== undefined) alert.currentValue = c.currentValue;
  if (transitionAt) alert.timestamp = transitionAt.toISOString();
  if (description) alert.description = truncate(description, DESCRIPTION_MAX);
  const link = consoleLink(c.alarmName, c.region);
  if (link) alert.links = [link];
  alert.customDetails = compact({
    awsAccountId: c.accountId,
    region: c.region,
    alarmArn: c.alarmArn,
    alarmDescription: strippedDescription
      ? truncate(strippedDescription, DESCRIPTION_MAX)
      : undefined,
    namespace: c.metric?.namespace,
    dimensions: c.metric?.dimensions,
    expression: c.metric?.expression,
    metricLabel: c.metric?.label,
    comparisonOperator: c.comparisonOperator,
    alarmRule: c.alarmRule,
    newStateValue: c.newState,
    oldStateValue: c.oldState,
    stateChangeTime: c.stateChangeTime,
    ...c.extra,
  });

  return {
    alert,
    meta: compact({
      source: c.source,
      transitionAt,
      recordOnly: c.newState === 'INSUFFICIENT_DATA' ? true : undefined,
      alarmArn: c.alarmArn,
      fields: SENDER_FIELDS[c.source],
    }) as IngestItem['meta'],
  };
}

/** Alert field → where it came from, so a rejected alarm's 400 names the sender's field. */
const SENDER_FIELDS: Record<
  AlarmStateChange['source'],
  Record<string, string>
> = {
  sns: {
    alarmName: 'AlarmName',
    dedupKey: 'AlarmName',
    links: 'AlarmName',
    metricName: 'Trigger.MetricName',
    description: 'NewStateReason',
    timestamp: 'StateChangeTime',
    transitionAt: 'StateChangeTime',
    threshold: 'Trigger.Threshold',
    'customDetails.alarmDescription': 'AlarmDescription',
    'customDetails.triggeringChildren': 'TriggeringChildren',
    'customDetails.dimensions': 'Trigger.Dimensions',
    'customDetails.alarmRule': 'AlarmRule',
  },
  eventbridge: {
    alarmName: 'detail.alarmName',
    dedupKey: 'detail.alarmName',
    links: 'detail.alarmName',
    metricName: 'detail.configuration.metrics',
    description: 'detail.state.reason',
    timestamp: 'detail.state.timestamp',
    transitionAt: 'detail.state.timestamp',
    threshold: 'detail.configuration.threshold',
    'customDetails.alarmDescription': 'detail.configuration.description',
    'customDetails.dimensions': 'detail.configuration.metrics',
    'customDetails.alarmRule': 'detail.configuration.alarmRule',
  },
};

/**
 * Uses the untruncated names, so two long alarm names that share a prefix never
 * collide; a key over the limit becomes its SHA-256 hex, which is also what the
 * PagerDuty adapter would send for it (the README (Incidents)).
 */
function dedupKey(alarmName: string, metricKey: string | undefined): string {
  const key = metricKey ? `${alarmName}-${metricKey}` : alarmName;
  return key.length <= DEDUP_KEY_MAX
    ? key
    : createHash('sha256').update(key).digest('hex');
}

function snsMetric(trigger: Record<string, unknown>): AlarmMetric | undefined {
  const metricName = str(trigger.MetricName);
  if (metricName) {
    return {
      key: metricName,
      namespace: str(trigger.Namespace),
      dimensions: dimensionsFromList(trigger.Dimensions),
    };
  }
  if (!Array.isArray(trigger.Metrics)) return undefined;
  return pickReturnedMetric(
    trigger.Metrics.map(asRecord).flatMap((q) => {
      if (!q) return [];
      const stat = asRecord(q.MetricStat);
      const metric = stat ? asRecord(stat.Metric) : undefined;
      return [
        {
          id: str(q.Id),
          returnData: q.ReturnData === true,
          expression: str(q.Expression),
          label: str(q.Label),
          metricName: metric ? str(metric.MetricName) : undefined,
          namespace: metric ? str(metric.Namespace) : undefined,
          dimensions: metric
            ? dimensionsFromList(metric.Dimensions)
            : undefined,
        },
      ];
    }),
  );
}

function eventBridgeMetric(metrics: unknown): AlarmMetric | undefined {
  if (!Array.isArray(metrics)) return undefined;
  return pickReturnedMetric(
    metrics.map(asRecord).flatMap((q) => {
      if (!q) return [];
      const stat = asRecord(q.metricStat);
      const metric = stat ? asRecord(stat.metric) : undefined;
      return [
        {
          id: str(q.id),
          returnData: q.returnData === true,
          expression: str(q.expression),
          label: str(q.label),
          metricName: metric ? str(metric.name) : undefined,
          namespace: metric ? str(metric.namespace) : undefined,
          dimensions: metric ? dimensionsFromMap(metric.dimensions) : undefined,
        },
      ];
    }),
  );
}

interface MetricQuery {
  id?: string;
  returnData: boolean;
  expression?: string;
  label?: string;
  metricName?: string;
  namespace?: string;
  dimensions?: Record<string, string>;
}

/**
 * A metric name survives edits of the math around it, and an anomaly-detection alarm
 * returns both the metric and the band: preferring the metric keys both kinds on what
 * is being watched. Only a pure expression falls back to its id, which, unlike the
 * label, is an identifier CloudWatch keeps as written.
 */
function pickReturnedMetric(queries: MetricQuery[]): AlarmMetric | undefined {
  const returned = queries.filter((q) => q.returnData);
  const withMetric = returned.find((q) => q.metricName);
  if (withMetric?.metricName) {
    return {
      key: withMetric.metricName,
      namespace: withMetric.namespace,
      dimensions: withMetric.dimensions,
      label: withMetric.label,
    };
  }
  const expression = returned.find((q) => q.id);
  if (!expression?.id) return undefined;
  const read = queries.find((q) => q.metricName && q.namespace);
  return {
    key: expression.id,
    namespace: read?.namespace,
    dimensions: read?.dimensions,
    expression: expression.expression,
    label: expression.label,
  };
}

function dimensionsFromList(
  value: unknown,
): Record<string, string> | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const d of value.map(asRecord)) {
    // Alarm messages spell them `name`/`value`; the API spells them `Name`/`Value`.
    const name = d ? (str(d.name) ?? str(d.Name)) : undefined;
    const val = d ? (str(d.value) ?? str(d.Value)) : undefined;
    if (name !== undefined && val !== undefined) out[name] = val;
  }
  return out;
}

function dimensionsFromMap(value: unknown): Record<string, string> | undefined {
  const map = asRecord(value);
  if (!map) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) {
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/**
 * Best effort: the first datapoint quoted in the reason, as in
 * `1 out of the last 1 datapoints [1234.0 (06/03/15 17:43:27)]` or the older
 * `1 datapoint (1.0) was not greater`.
 */
function valueFromReason(reason: string): number | undefined {
  const match =
    /datapoints? \[(-?\d+(?:\.\d+)?(?:E[-+]?\d+)?) \(/i.exec(reason) ??
    /datapoints? \((-?\d+(?:\.\d+)?(?:E[-+]?\d+)?)\)/i.exec(reason);
  return match ? num(Number(match[1])) : undefined;
}

function parseReasonData(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return asRecord(value);
  try {
    return asRecord(JSON.parse(value));
  } catch {
    return undefined;
  }
}

function consoleLink(
  alarmName: string,
  region: string | undefined,
): AlertLink | undefined {
  if (!region) return undefined;
  let name: string;
  try {
    name = encodeURIComponent(alarmName);
  } catch {
    // a lone surrogate: validation refuses the alarm name itself, naming it
    return undefined;
  }
  return {
    href: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#alarmsV2:alarm/${name}`,
    text: 'CloudWatch alarm',
  };
}

/** `Region` in the message is a display name ("US East (N. Virginia)"): use the ARN. */
function regionFromArn(arn: string | undefined): string | undefined {
  const region = arnPart(arn, 3);
  return region && REGION.test(region) ? region : undefined;
}

function arnPart(arn: string | undefined, index: number): string | undefined {
  if (!arn?.startsWith('arn:')) return undefined;
  const part = arn.split(':')[index];
  return part ? part : undefined;
}

function checkState(value: string, alarmName: string): AlarmStateValue {
  if (!STATES.has(value)) {
    throw new CloudWatchMappingError(
      'unknown-state',
      `alarm "${alarmName}" has unknown state "${value}": expected ALARM, OK or INSUFFICIENT_DATA`,
    );
  }
  return value as AlarmStateValue;
}

function parseIfString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new CloudWatchMappingError(
      'invalid-json',
      'not a CloudWatch alarm message: the message is not JSON',
    );
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value)
    ? value
    : undefined;
}

function compact<T extends Record<string, unknown>>(obj: T): T {
  for (const key of Object.keys(obj)) {
    if (obj[key] === undefined) delete obj[key];
  }
  return obj;
}
