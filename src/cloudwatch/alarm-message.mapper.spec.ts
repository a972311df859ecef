import { readFileSync } from 'node:fs';
import {
  CloudWatchMappingError,
  mapCloudWatchAlarmMessage,
  mapEventBridgeAlarmEvent,
  parseCloudWatchTimestamp,
  severityFromDescription,
  truncate,
} from './alarm-message.mapper.js';

const defaults = { environment: 'production' };

function fixture(path: string): Record<string, unknown> {
  return JSON.parse(
    readFileSync(
      new URL(`../../test/fixtures/aws/${path}`, import.meta.url),
      'utf8',
    ),
  ) as Record<string, unknown>;
}

/** The alarm message of an SNS HTTP body (`Message`) or Lambda event (`Records[0].Sns.Message`). */
function snsMessage(path: string): string {
  const body = fixture(path) as {
    Message?: string;
    Records?: { Sns: { Message: string } }[];
  };
  return body.Message ?? body.Records![0].Sns.Message;
}

function expectCaught(fn: () => unknown): CloudWatchMappingError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CloudWatchMappingError);
    return error as CloudWatchMappingError;
  }
  throw new Error('expected a CloudWatchMappingError');
}

describe(mapCloudWatchAlarmMessage.name, () => {
  it('maps a metric alarm going ALARM (alerta sample)', () => {
    const sut = mapCloudWatchAlarmMessage(
      snsMessage('cloudwatch/alerta/alarm-ALARM.json'),
      defaults,
    );

    expect(sut.alert).toMatchObject({
      severity: 'CRITICAL',
      status: 'firing',
      alarmName: 'bucketbytesAlarm',
      metricName: 'BucketSizeBytes',
      dedupKey: 'bucketbytesAlarm-BucketSizeBytes',
      threshold: 0,
      currentValue: 1062305,
      environment: 'production',
      timestamp: '2019-02-15T23:53:45.093Z',
      description:
        'Threshold Crossed: 1 datapoint [1062305.0 (14/02/19 23:53:00)] was greater than or equal to the threshold (0.0).',
    });
    expect(sut.alert.customDetails).toMatchObject({
      awsAccountId: '1234567890',
      namespace: 'AWS/S3',
      dimensions: {
        StorageType: 'StandardStorage',
        BucketName: 'try.alerta.io',
      },
      newStateValue: 'ALARM',
      oldStateValue: 'INSUFFICIENT_DATA',
      stateChangeTime: '2019-02-15T23:53:45.093+0000',
      alarmDescription: 'bucket bytes size exceeded',
    });
    // An old message without AlarmArn: the "EU (Ireland)" display name is no region.
    expect(sut.alert.customDetails).not.toHaveProperty('region');
    expect(sut.alert.links).toBeUndefined();
    expect(sut.meta).toEqual({
      fields: expect.any(Object),
      source: 'sns',
      transitionAt: new Date('2019-02-15T23:53:45.093Z'),
    });
  });

  it('records INSUFFICIENT_DATA without a status (alerta sample)', () => {
    const sut = mapCloudWatchAlarmMessage(
      snsMessage('cloudwatch/alerta/alarm-INSUFFICIENT_DATA.json'),
      defaults,
    );

    expect(sut.meta.recordOnly).toBe(true);
    expect(sut.alert.status).toBeUndefined();
    expect(sut.alert.dedupKey).toBe(
      'notificationCountAlarm-NumberOfNotificationsDelivered',
    );
    expect(sut.meta.transitionAt).toEqual(new Date('2019-05-13T08:41:43.548Z'));
    expect(sut.alert.customDetails).toMatchObject({
      newStateValue: 'INSUFFICIENT_DATA',
      oldStateValue: 'ALARM',
    });
  });

  it('resolves on OK (real huit message, HTTP body)', () => {
    const sut = mapCloudWatchAlarmMessage(
      snsMessage('cloudwatch/huit-metric-alarm-OK.http-body.json'),
      defaults,
    );

    expect(sut.alert).toMatchObject({
      status: 'resolved',
      severity: 'CRITICAL',
      alarmName:
        'calexport.fas.harvard.edu prod elb-request-count-high-cw-alarm',
      dedupKey:
        'calexport.fas.harvard.edu prod elb-request-count-high-cw-alarm-RequestCount',
      metricName: 'RequestCount',
      threshold: 500,
      currentValue: 1,
    });
    expect(sut.alert.customDetails).toMatchObject({
      awsAccountId: '949726781110',
      namespace: 'AWS/ELB',
      dimensions: { LoadBalancerName: 'admints-c-LoadBala-18FMEMSAACK1M' },
    });
    expect(sut.meta.recordOnly).toBeUndefined();
    expect(sut.meta.transitionAt).toEqual(new Date('2017-04-19T18:04:56.778Z'));
  });

  it('fires on ALARM and takes the region from AlarmArn (real rheoceros Lambda event)', () => {
    const sut = mapCloudWatchAlarmMessage(
      snsMessage(
        'cloudwatch/rheoceros-metric-alarm-ALARM.lambda-sns-event.json',
      ),
      defaults,
    );
    const arn =
      'arn:aws:cloudwatch:us-east-1:427809481713:alarm:if-sim-app_427809481713_us-east-1-metric_emitting_node_failure';

    expect(sut.alert).toMatchObject({
      status: 'firing',
      severity: 'CRITICAL',
      dedupKey:
        'if-sim-app_427809481713_us-east-1-metric_emitting_node_failure-IExecutionFailureHook',
      threshold: 1,
      currentValue: 1,
      timestamp: '2021-11-10T02:45:55.640Z',
    });
    expect(sut.alert.customDetails).toMatchObject({
      region: 'us-east-1',
      alarmArn: arn,
      awsAccountId: '427809481713',
      dimensions: {
        MetricGroupId: 'routing_table.receive.hook',
        RouteID: 'metric_emitting_node',
      },
    });
    expect(sut.alert.customDetails).not.toHaveProperty('alarmDescription');
    expect(sut.alert.links).toEqual([
      {
        href: 'https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/if-sim-app_427809481713_us-east-1-metric_emitting_node_failure',
        text: 'CloudWatch alarm',
      },
    ]);
    expect(sut.meta).toEqual({
      fields: expect.any(Object),
      source: 'sns',
      transitionAt: new Date('2021-11-10T02:45:55.640Z'),
      alarmArn: arn,
    });
  });

  it('maps a single-metric alarm with a placeholder ARN (aws-lambda-go sample)', () => {
    const sut = mapCloudWatchAlarmMessage(
      snsMessage(
        'cloudwatch/aws-lambda-go/cloudwatch-alarm-sns-payload-single-metric.json',
      ),
      defaults,
    );

    expect(sut.alert.dedupKey).toBe('EXAMPLE-NetworkOut');
    expect(sut.alert.currentValue).toBe(1234);
    // `REGION` in the ARN is a placeholder, not a region.
    expect(sut.alert.customDetails).not.toHaveProperty('region');
    expect(sut.meta.alarmArn).toBe(
      'arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE',
    );
  });

  it('keys a metric-math alarm on the id of the returned expression (aws-lambda-go sample)', () => {
    const sut = mapCloudWatchAlarmMessage(
      snsMessage(
        'cloudwatch/aws-lambda-go/cloudwatch-alarm-sns-payload-multiple-metrics.json',
      ),
      defaults,
    );

    expect(sut.alert.dedupKey).toBe('EXAMPLE-e1');
    expect(sut.alert.metricName).toBe('e1');
    expect(sut.alert.threshold).toBe(0);
    expect(sut.alert.customDetails).toMatchObject({
      expression: 'm1*1',
      metricLabel: 'Expression1',
      namespace: 'AWS/EC2',
      dimensions: { InstanceId: 'TestInstance' },
    });
  });

  it('keys a composite alarm on its name alone', () => {
    const message = {
      AlarmName: 'ServiceAggregatedAlarm',
      AlarmDescription: '[WARNING] aggregated service health',
      AWSAccountId: '123456789012',
      NewStateValue: 'ALARM',
      NewStateReason:
        'arn:aws:cloudwatch:eu-central-1:123456789012:alarm:ServerCpuTooHigh transitioned to ALARM',
      StateChangeTime: '2022-07-22T15:57:45.394+0000',
      Region: 'EU (Frankfurt)',
      AlarmArn:
        'arn:aws:cloudwatch:eu-central-1:123456789012:alarm:ServiceAggregatedAlarm',
      OldStateValue: 'OK',
      AlarmRule: 'ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)',
      TriggeringChildren: [
        {
          Arn: 'arn:aws:cloudwatch:eu-central-1:123456789012:alarm:ServerCpuTooHigh',
          State: { Value: 'ALARM', Timestamp: '2022-07-22T15:57:45.394+0000' },
        },
      ],
    };

    const sut = mapCloudWatchAlarmMessage(message, defaults);

    expect(sut.alert.dedupKey).toBe('ServiceAggregatedAlarm');
    expect(sut.alert.metricName).toBeUndefined();
    expect(sut.alert.severity).toBe('WARNING');
    expect(sut.alert.customDetails).toMatchObject({
      region: 'eu-central-1',
      alarmRule: 'ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)',
      alarmDescription: 'aggregated service health',
      triggeringChildren: message.TriggeringChildren,
    });
  });

  it('reads the severity tag, in any case, else CRITICAL', () => {
    const base = JSON.parse(
      snsMessage('cloudwatch/alerta/alarm-ALARM.json'),
    ) as Record<string, unknown>;
    const severity = (d: unknown) =>
      mapCloudWatchAlarmMessage({ ...base, AlarmDescription: d }, defaults)
        .alert.severity;

    expect(severity('[CRITICAL] x')).toBe('CRITICAL');
    expect(severity('[WARNING] latency')).toBe('WARNING');
    expect(severity('[info] note')).toBe('INFO');
    expect(severity('[ERROR] broken')).toBe('ERROR');
    expect(severity('Hybrid routing [Warning] slow')).toBe('WARNING');
    expect(severity('[DEBUG] unknown tag')).toBe('CRITICAL');
    expect(severity(null)).toBe('CRITICAL');
  });

  it('tolerates unknown fields and a minimal message', () => {
    const sut = mapCloudWatchAlarmMessage(
      {
        AlarmName: 'bare',
        NewStateValue: 'OK',
        SomeFutureField: { nested: true },
        StateChangeTime: 'not a date',
      },
      defaults,
    );

    expect(sut.alert).toEqual({
      severity: 'CRITICAL',
      alarmName: 'bare',
      environment: 'production',
      dedupKey: 'bare',
      status: 'resolved',
      // The raw value is kept so an operator sees what arrived.
      customDetails: { newStateValue: 'OK', stateChangeTime: 'not a date' },
    });
    expect(sut.meta).toEqual({ source: 'sns', fields: expect.any(Object) });
  });

  it('truncates a long name and description, and hashes an over-long dedup key', () => {
    const longName = `${'a'.repeat(254)}😀tail`;
    const sut = mapCloudWatchAlarmMessage(
      {
        AlarmName: longName,
        NewStateValue: 'ALARM',
        NewStateReason: 'r'.repeat(10_000),
        Trigger: { MetricName: 'M' },
      },
      defaults,
    );

    expect(sut.alert.alarmName).toHaveLength(255);
    expect(sut.alert.alarmName.endsWith('a…')).toBe(true);
    expect(sut.alert.description).toHaveLength(8192);
    expect(sut.alert.dedupKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['not JSON', '{oops', 'invalid-json'],
    ['an array', [], 'not-an-alarm'],
    ['no AlarmName', { NewStateValue: 'ALARM' }, 'not-an-alarm'],
    ['no state', { AlarmName: 'x' }, 'not-an-alarm'],
    [
      'an unknown state',
      { AlarmName: 'x', NewStateValue: 'MAYBE' },
      'unknown-state',
    ],
  ])('rejects %s', (_label, input, code) => {
    const error = expectCaught(() =>
      mapCloudWatchAlarmMessage(input, defaults),
    );

    expect(error.code).toBe(code);
    expect(error.message).toMatch(/./);
  });

  it('rejects the SNS envelope with a hint', () => {
    const error = expectCaught(() =>
      mapCloudWatchAlarmMessage(
        fixture('cloudwatch/huit-metric-alarm-OK.http-body.json'),
        defaults,
      ),
    );

    expect(error.message).toContain('Message');
  });
});

describe(mapEventBridgeAlarmEvent.name, () => {
  it('maps a single-metric alarm state change', () => {
    const sut = mapEventBridgeAlarmEvent(
      fixture('eventbridge/state-change-single-metric-alarm.json'),
      defaults,
    );

    expect(sut.alert).toMatchObject({
      severity: 'CRITICAL',
      status: 'firing',
      alarmName: 'ServerCpuTooHigh',
      metricName: 'CPUUtilization',
      dedupKey: 'ServerCpuTooHigh-CPUUtilization',
      threshold: 50,
      currentValue: 99.50160229693434,
      timestamp: '2019-10-02T17:04:40.989Z',
    });
    expect(sut.alert.customDetails).toMatchObject({
      awsAccountId: '123456789012',
      region: 'us-east-1',
      alarmArn:
        'arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh',
      namespace: 'AWS/EC2',
      dimensions: { InstanceId: 'i-12345678901234567' },
      newStateValue: 'ALARM',
      oldStateValue: 'OK',
      stateChangeTime: '2019-10-02T17:04:40.989+0000',
      alarmDescription:
        'Goes into alarm when server CPU utilization is too high!',
    });
    expect(sut.meta).toEqual({
      fields: expect.any(Object),
      source: 'eventbridge',
      transitionAt: new Date('2019-10-02T17:04:40.989Z'),
      alarmArn:
        'arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh',
    });
  });

  it('keys a metric-math alarm on the returned expression id', () => {
    const sut = mapEventBridgeAlarmEvent(
      fixture('eventbridge/state-change-metric-math-alarm.json'),
      defaults,
    );

    expect(sut.alert.dedupKey).toBe('TotalNetworkTrafficTooHigh-e1');
    expect(sut.alert.threshold).toBe(10000);
    expect(sut.alert.currentValue).toBe(45628);
    expect(sut.alert.customDetails).toMatchObject({
      expression: 'SUM(METRICS())',
      metricLabel: 'Total Network Traffic',
      namespace: 'AWS/EC2',
      oldStateValue: 'INSUFFICIENT_DATA',
    });
  });

  it('keys an anomaly-detection alarm on the watched metric, not the band', () => {
    const sut = mapEventBridgeAlarmEvent(
      fixture('eventbridge/state-change-anomaly-detection-alarm.json'),
      defaults,
    );

    expect(sut.alert.dedupKey).toBe(
      'EC2 CPU Utilization Anomaly-CPUUtilization',
    );
    expect(sut.alert.threshold).toBeUndefined();
    expect(sut.alert.currentValue).toBe(0);
    expect(sut.alert.status).toBe('firing');
    expect(sut.meta.transitionAt).toEqual(new Date('2019-10-03T16:00:04.653Z'));
  });

  it('keys a composite alarm on its name and keeps the suppression', () => {
    const sut = mapEventBridgeAlarmEvent(
      fixture('eventbridge/state-change-composite-alarm-with-suppressor.json'),
      defaults,
    );

    expect(sut.alert.dedupKey).toBe('ServiceAggregatedAlarm');
    expect(sut.alert.metricName).toBeUndefined();
    expect(sut.alert.customDetails).toMatchObject({
      alarmRule: 'ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)',
      actionsSuppressedBy: 'WaitPeriod',
      region: 'us-east-1',
    });
  });

  it('maps OK and INSUFFICIENT_DATA like SNS', () => {
    const event = fixture('eventbridge/state-change-single-metric-alarm.json');
    const detail = event.detail as { state: Record<string, unknown> };
    const withState = (value: string) => ({
      ...event,
      detail: { ...detail, state: { ...detail.state, value } },
    });

    expect(
      mapEventBridgeAlarmEvent(withState('OK'), defaults).alert.status,
    ).toBe('resolved');
    const insufficient = mapEventBridgeAlarmEvent(
      withState('INSUFFICIENT_DATA'),
      defaults,
    );
    expect(insufficient.meta.recordOnly).toBe(true);
    expect(insufficient.alert.status).toBeUndefined();
  });

  it('takes the region from the resource ARN when the event has none', () => {
    const event = fixture('eventbridge/state-change-single-metric-alarm.json');
    delete event.region;

    const sut = mapEventBridgeAlarmEvent(event, defaults);

    expect(sut.alert.customDetails?.region).toBe('us-east-1');
  });

  it.each([
    'config-change-create-composite-alarm.json',
    'config-change-create-composite-alarm-with-suppressor.json',
    'config-change-delete-composite-alarm-with-suppressor.json',
    'config-change-delete-metric-math-alarm.json',
    'config-change-update-composite-alarm-with-suppressor.json',
    'config-change-update-metric-alarm.json',
  ])('rejects %s as unsupported-detail-type', (file) => {
    const error = expectCaught(() =>
      mapEventBridgeAlarmEvent(fixture(`eventbridge/${file}`), defaults),
    );

    expect(error.code).toBe('unsupported-detail-type');
    expect(error.message).toContain('CloudWatch Alarm Configuration Change');
  });

  it('rejects what is not an alarm state change', () => {
    expect(
      expectCaught(() => mapEventBridgeAlarmEvent({}, defaults)).code,
    ).toBe('not-an-alarm');
    expect(
      expectCaught(() =>
        mapEventBridgeAlarmEvent(
          { 'detail-type': 'CloudWatch Alarm State Change', detail: {} },
          defaults,
        ),
      ).code,
    ).toBe('not-an-alarm');
  });
});

describe(parseCloudWatchTimestamp.name, () => {
  it.each([
    ['2019-12-05T17:13:21.587+0000', '2019-12-05T17:13:21.587Z'],
    ['2019-12-05T19:13:21.587+0200', '2019-12-05T17:13:21.587Z'],
    ['2019-12-05T17:13:21.587Z', '2019-12-05T17:13:21.587Z'],
    ['2019-12-05T17:13:21+00:00', '2019-12-05T17:13:21.000Z'],
  ])('parses %s', (input, iso) => {
    expect(parseCloudWatchTimestamp(input)?.toISOString()).toBe(iso);
  });

  it.each([undefined, '', 'yesterday', 42])('ignores %s', (input) => {
    expect(parseCloudWatchTimestamp(input)).toBeUndefined();
  });
});

describe(severityFromDescription.name, () => {
  it('defaults to CRITICAL', () => {
    expect(severityFromDescription('no tag')).toBe('CRITICAL');
  });
});

describe(truncate.name, () => {
  it('never splits a surrogate pair', () => {
    const sut = truncate('ab😀cd', 4);

    expect(sut).toBe('ab…');
  });
});
