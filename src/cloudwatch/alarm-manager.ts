import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  ListTagsForResourceCommand,
  PutMetricAlarmCommand,
  paginateDescribeAlarms,
  type MetricAlarm,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import type { AlarmSpec } from './alarm-specs.js';

export interface OwnerTag {
  key: string;
  value: string;
}

export const DEFAULT_OWNER_TAG: OwnerTag = {
  key: 'ManagedBy',
  value: 'orchestrator-alerting',
};

export interface AlarmManagerOptions {
  client: CloudWatchClient;
  specs: AlarmSpec[];
  ownerTag?: OwnerTag;
  /**
   * Limits what the manager looks at, and so what it may delete, to alarm names with
   * this prefix (e.g. `production-hybrid-routing-`). Without it every owned metric
   * alarm in the account and region is in scope: with one owner tag shared by all
   * environments, a staging run would then delete production's alarms.
   */
  namePrefix?: string;
}

export interface AlarmFieldChange {
  from: unknown;
  to: unknown;
}

export interface AlarmUpdate {
  spec: AlarmSpec;
  /** spec field names that differ, e.g. `['threshold']` */
  changes: string[];
  diff: Record<string, AlarmFieldChange>;
}

export interface AlarmConflict {
  alarmName: string;
  reason: string;
}

export interface AlarmPlan {
  create: AlarmSpec[];
  update: AlarmUpdate[];
  /** owned alarms no longer in the specs */
  delete: string[];
  unchanged: string[];
  /** alarms with a spec's name that we do not own: never touched */
  conflicts: AlarmConflict[];
}

export interface AlarmApplyResult {
  created: string[];
  updated: string[];
  deleted: string[];
  /** not touched because, when applying, the alarm existed without our owner tag */
  skipped: AlarmConflict[];
}

const DESCRIBE_BATCH = 100;
const DELETE_BATCH = 100;
const TAG_LOOKUP_CONCURRENCY = 5;

/**
 * Plans and applies alarm definitions as code (the README (CloudWatch and SNS)). Ownership is the owner tag:
 * an alarm without it is someone else's, even when it has one of our names, and is
 * reported as a conflict instead of being overwritten, because `PutMetricAlarm` would
 * silently replace a hand-made alarm and keep its (foreign) tags.
 */
export class AlarmManager {
  private readonly client: CloudWatchClient;
  private readonly specs: AlarmSpec[];
  private readonly ownerTag: OwnerTag;
  private readonly namePrefix?: string;

  constructor(options: AlarmManagerOptions) {
    this.client = options.client;
    this.specs = options.specs;
    this.ownerTag = options.ownerTag ?? DEFAULT_OWNER_TAG;
    this.namePrefix = options.namePrefix;
    validateSpecs(this.specs, this.namePrefix);
  }

  async plan(): Promise<AlarmPlan> {
    const existing = await this.listExisting();
    const owned = await this.ownership(existing);
    const byName = new Map(existing.map((a) => [a.AlarmName!, a]));
    const plan: AlarmPlan = {
      create: [],
      update: [],
      delete: [],
      unchanged: [],
      conflicts: [],
    };
    const specNames = new Set<string>();

    for (const spec of this.specs) {
      specNames.add(spec.alarmName);
      const current = byName.get(spec.alarmName);
      if (!current) {
        plan.create.push(spec);
      } else if (!owned.has(spec.alarmName)) {
        plan.conflicts.push(this.conflict(spec.alarmName));
      } else {
        const diff = diffAlarm(spec, current);
        const changes = Object.keys(diff);
        if (changes.length === 0) plan.unchanged.push(spec.alarmName);
        else plan.update.push({ spec, changes, diff });
      }
    }
    for (const alarm of existing) {
      const name = alarm.AlarmName!;
      if (!specNames.has(name) && owned.has(name)) plan.delete.push(name);
    }
    return plan;
  }

  /**
   * Applies a plan (a fresh one by default). Ownership is checked again right before
   * writing, so a plan that went stale (someone created a same-named alarm by hand
   * meanwhile) still never touches an alarm we do not own.
   */
  async apply(plan?: AlarmPlan): Promise<AlarmApplyResult> {
    const p = plan ?? (await this.plan());
    const result: AlarmApplyResult = {
      created: [],
      updated: [],
      deleted: [],
      skipped: [],
    };
    const writes = [
      ...p.create.map((spec) => ({ spec, kind: 'create' as const })),
      ...p.update.map(({ spec }) => ({ spec, kind: 'update' as const })),
    ];
    const touched = [...writes.map((w) => w.spec.alarmName), ...p.delete];
    const current = await this.describeByName(touched);
    const owned = await this.ownership([...current.values()]);

    for (const { spec, kind } of writes) {
      if (current.has(spec.alarmName) && !owned.has(spec.alarmName)) {
        result.skipped.push(this.conflict(spec.alarmName));
        continue;
      }
      await this.client.send(
        new PutMetricAlarmCommand(toPutMetricAlarmInput(spec, this.ownerTag)),
      );
      (kind === 'create' ? result.created : result.updated).push(
        spec.alarmName,
      );
    }

    const deletable = p.delete.filter((name) => owned.has(name));
    for (const name of p.delete) {
      if (current.has(name) && !owned.has(name)) {
        result.skipped.push(this.conflict(name));
      }
    }
    for (const batch of chunk(deletable, DELETE_BATCH)) {
      await this.client.send(new DeleteAlarmsCommand({ AlarmNames: batch }));
      result.deleted.push(...batch);
    }
    return result;
  }

  private conflict(alarmName: string): AlarmConflict {
    return {
      alarmName,
      reason: `exists without the ${this.ownerTag.key}=${this.ownerTag.value} tag: not managed here, left untouched`,
    };
  }

  private async listExisting(): Promise<MetricAlarm[]> {
    const alarms: MetricAlarm[] = [];
    const pages = paginateDescribeAlarms(
      { client: this.client, pageSize: DESCRIBE_BATCH },
      {
        AlarmTypes: ['MetricAlarm'],
        ...(this.namePrefix ? { AlarmNamePrefix: this.namePrefix } : {}),
      },
    );
    for await (const page of pages) {
      for (const alarm of page.MetricAlarms ?? []) {
        if (alarm.AlarmName) alarms.push(alarm);
      }
    }
    return alarms;
  }

  private async describeByName(
    names: string[],
  ): Promise<Map<string, MetricAlarm>> {
    const found = new Map<string, MetricAlarm>();
    for (const batch of chunk([...new Set(names)], DESCRIBE_BATCH)) {
      const page = await this.client.send(
        new DescribeAlarmsCommand({
          AlarmNames: batch,
          AlarmTypes: ['MetricAlarm'],
          MaxRecords: DESCRIBE_BATCH,
        }),
      );
      for (const alarm of page.MetricAlarms ?? []) {
        if (alarm.AlarmName) found.set(alarm.AlarmName, alarm);
      }
    }
    return found;
  }

  /** Names of the given alarms that carry the owner tag. */
  private async ownership(alarms: MetricAlarm[]): Promise<Set<string>> {
    const owned = new Set<string>();
    const queue = alarms.filter((a) => a.AlarmArn && a.AlarmName);
    const worker = async () => {
      for (let alarm = queue.shift(); alarm; alarm = queue.shift()) {
        const { Tags } = await this.client.send(
          new ListTagsForResourceCommand({ ResourceARN: alarm.AlarmArn }),
        );
        const mine = (Tags ?? []).some(
          (t) => t.Key === this.ownerTag.key && t.Value === this.ownerTag.value,
        );
        if (mine) owned.add(alarm.AlarmName!);
      }
    };
    await Promise.all(
      Array.from({ length: TAG_LOOKUP_CONCURRENCY }, () => worker()),
    );
    return owned;
  }
}

export function toPutMetricAlarmInput(
  spec: AlarmSpec,
  ownerTag: OwnerTag = DEFAULT_OWNER_TAG,
): PutMetricAlarmCommandInput {
  return {
    AlarmName: spec.alarmName,
    AlarmDescription: spec.alarmDescription,
    ActionsEnabled: true,
    Namespace: spec.namespace,
    MetricName: spec.metricName,
    Dimensions: spec.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
    Statistic: spec.statistic,
    ExtendedStatistic: spec.extendedStatistic,
    Unit: spec.unit,
    Period: spec.period,
    EvaluationPeriods: spec.evaluationPeriods,
    DatapointsToAlarm: spec.datapointsToAlarm,
    Threshold: spec.threshold,
    ComparisonOperator: spec.comparisonOperator,
    TreatMissingData: spec.treatMissingData,
    AlarmActions: spec.alarmActions,
    OKActions: spec.okActions,
    InsufficientDataActions: spec.insufficientDataActions ?? [],
    // CloudWatch ignores Tags when the alarm already exists; updates only ever touch
    // alarms that already carry the tag.
    Tags: [{ Key: ownerTag.key, Value: ownerTag.value }],
  };
}

/**
 * The fields that change what the alarm watches or whom it tells. CloudWatch omits
 * some fields when they hold their default, so both sides are normalised first.
 */
export function diffAlarm(
  spec: AlarmSpec,
  current: MetricAlarm,
): Record<string, AlarmFieldChange> {
  const dims = (list: { name?: string; value?: string }[]) =>
    list
      .map((d) => `${d.name}=${d.value}`)
      .sort()
      .join(',');
  const set = (list: string[] | undefined) =>
    [...(list ?? [])].sort().join(',');
  const pairs: [string, unknown, unknown][] = [
    ['threshold', spec.threshold, current.Threshold],
    ['comparisonOperator', spec.comparisonOperator, current.ComparisonOperator],
    ['period', spec.period, current.Period],
    ['evaluationPeriods', spec.evaluationPeriods, current.EvaluationPeriods],
    [
      'datapointsToAlarm',
      spec.datapointsToAlarm ?? spec.evaluationPeriods,
      current.DatapointsToAlarm ?? current.EvaluationPeriods,
    ],
    ['statistic', spec.statistic, current.Statistic],
    ['extendedStatistic', spec.extendedStatistic, current.ExtendedStatistic],
    ['metricName', spec.metricName, current.MetricName],
    ['namespace', spec.namespace, current.Namespace],
    [
      'dimensions',
      dims(spec.dimensions),
      dims(
        (current.Dimensions ?? []).map((d) => ({
          name: d.Name,
          value: d.Value,
        })),
      ),
    ],
    ['unit', spec.unit, current.Unit],
    ['alarmActions', set(spec.alarmActions), set(current.AlarmActions)],
    ['okActions', set(spec.okActions), set(current.OKActions)],
    [
      'insufficientDataActions',
      set(spec.insufficientDataActions),
      set(current.InsufficientDataActions),
    ],
    ['alarmDescription', spec.alarmDescription, current.AlarmDescription ?? ''],
    [
      'treatMissingData',
      spec.treatMissingData,
      current.TreatMissingData ?? 'missing',
    ],
    ['actionsEnabled', true, current.ActionsEnabled ?? true],
  ];
  const diff: Record<string, AlarmFieldChange> = {};
  for (const [field, to, from] of pairs) {
    if ((to ?? null) !== (from ?? null)) diff[field] = { from, to };
  }
  return diff;
}

function validateSpecs(specs: AlarmSpec[], namePrefix?: string): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.alarmName))
      problems.push(`${spec.alarmName}: duplicate name`);
    seen.add(spec.alarmName);
    if (
      (spec.statistic === undefined) ===
      (spec.extendedStatistic === undefined)
    ) {
      problems.push(
        `${spec.alarmName}: set exactly one of statistic and extendedStatistic`,
      );
    }
    if (namePrefix && !spec.alarmName.startsWith(namePrefix)) {
      // Outside the prefix the next plan would not see it and create it again.
      problems.push(`${spec.alarmName}: does not start with "${namePrefix}"`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`invalid alarm specs: ${problems.join('; ')}`);
  }
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(items.slice(i, i + size));
  return out;
}
