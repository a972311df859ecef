import type { DescribeAlarmsCommandOutput } from '@aws-sdk/client-cloudwatch';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { IncidentService } from '../alerting/incident.service.js';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { DatabaseService } from '../database/database.service.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import type { ReconcilerSource } from '../reconciler/reconciler-source.port.js';
import {
  createCloudWatchAccess,
  type CloudWatchAccess,
} from './cloudwatch.providers.js';

interface AlarmRow {
  id: string;
  alarm_name: string;
  alarm_arn: string;
}

// Walks the partial index ix_incidents_open_alarm. Exported for the query-plan spec.
export const OPEN_ALARMS_SQL = `
  SELECT id, alarm_name, alarm_arn FROM incidents
  WHERE open_key IS NOT NULL AND alarm_arn IS NOT NULL
  ORDER BY id`;
/** DescribeAlarms accepts at most 100 AlarmNames per call. */
const DESCRIBE_BATCH = 100;

/**
 * CloudWatch as the reconciler's source of truth for incidents that came from an alarm
 * (`ReconcilerModule.forRoot({ sources: [CloudWatchAlarmSource] })`). Its client is its own,
 * loaded on first tick, so the reconciler works without the CloudWatch edge module.
 */
@Injectable()
export class CloudWatchAlarmSource implements ReconcilerSource {
  private readonly logger = new Logger(CloudWatchAlarmSource.name);
  readonly name = 'cloudWatch';
  readonly label = 'CloudWatch';
  readonly counters = ['alarmOk', 'alarmDeleted'] as const;
  private readonly cloudWatch: CloudWatchAccess;

  constructor(
    private readonly db: DatabaseService,
    private readonly incidents: IncidentService,
    @Inject(ALERTING_CONFIG) config: AlertingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.cloudWatch = createCloudWatchAccess(config.aws);
  }

  /**
   * An OK that never arrived (SNS gave up, the service was down) would leave the incident
   * open until it goes stale; CloudWatch itself knows better. Only alarms in our region are
   * asked: DescribeAlarms elsewhere would not find them and we would call them deleted.
   */
  async reconcile(): Promise<{
    alarmOk: number;
    alarmDeleted: number;
  }> {
    const { client } = await this.cloudWatch();
    const region = await client.config.region();
    const rows = (
      await this.db.read((m) => this.db.query<AlarmRow>(m, OPEN_ALARMS_SQL, []))
    ).filter((r) => r.alarm_arn.split(':')[3] === region);
    const result = { alarmOk: 0, alarmDeleted: 0 };
    const names = [...new Set(rows.map((r) => r.alarm_name))];
    for (let i = 0; i < names.length; i += DESCRIBE_BATCH) {
      const batch = names.slice(i, i + DESCRIBE_BATCH);
      // Anything seen after we asked is newer than CloudWatch's answer and wins over it.
      const askedAt = this.clock.now().toISOString();
      const states = await this.describe(batch);
      for (const row of rows.filter((r) => batch.includes(r.alarm_name))) {
        const state = states.get(row.alarm_name);
        const reason =
          state === undefined
            ? 'alarm-deleted'
            : state === 'OK'
              ? 'alarm-ok'
              : null;
        if (!reason) continue;
        try {
          const done = await this.incidents.resolveIf(
            row.id,
            reason,
            (inc) => inc.lastSeenAt <= askedAt,
            {
              alarmName: row.alarm_name,
              alarmArn: row.alarm_arn,
            },
          );
          if (done)
            result[reason === 'alarm-ok' ? 'alarmOk' : 'alarmDeleted']++;
        } catch (error) {
          this.logger.warn(
            `incident ${row.id} skipped by the CloudWatch reconcile: ${(error as Error).message}`,
          );
        }
      }
    }
    return result;
  }

  private async describe(
    alarmNames: string[],
  ): Promise<Map<string, string | undefined>> {
    const states = new Map<string, string | undefined>();
    const { client, sdk } = await this.cloudWatch();
    let nextToken: string | undefined;
    do {
      const page: DescribeAlarmsCommandOutput = await client.send(
        new sdk.DescribeAlarmsCommand({
          AlarmNames: alarmNames,
          // Without AlarmTypes CloudWatch leaves composite alarms out, and they would look deleted.
          AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          MaxRecords: DESCRIBE_BATCH,
          NextToken: nextToken,
        }),
      );
      for (const a of [
        ...(page.MetricAlarms ?? []),
        ...(page.CompositeAlarms ?? []),
      ]) {
        if (a.AlarmName) states.set(a.AlarmName, a.StateValue);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return states;
  }
}
