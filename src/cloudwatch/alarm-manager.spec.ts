import {
  CloudWatchClient,
  DescribeAlarmsCommand,
} from '@aws-sdk/client-cloudwatch';
import { CloudWatchFake } from '../testing/cloudwatch.fake.js';
import { AlarmManager, DEFAULT_OWNER_TAG } from './alarm-manager.js';
import {
  hybridRoutingAlarmPrefix,
  hybridRoutingAlarmSpecs,
  type AlarmSpec,
} from './alarm-specs.js';

const topic = 'arn:aws:sns:eu-central-1:123456789012:hybrid-routing-alerts';
const prefix = hybridRoutingAlarmPrefix('production');
const names = [
  `${prefix}high-failure-rate`,
  `${prefix}high-latency`,
  `${prefix}cost-threshold`,
];

describe(AlarmManager.name, () => {
  let fake: CloudWatchFake;
  let client: CloudWatchClient;

  const manager = (
    specs: AlarmSpec[],
    namePrefix: string | undefined = prefix,
  ) => new AlarmManager({ client, specs, namePrefix });
  const specs = (
    overrides?: Parameters<typeof hybridRoutingAlarmSpecs>[0]['overrides'],
  ) =>
    hybridRoutingAlarmSpecs({
      environment: 'production',
      snsTopicArn: topic,
      overrides,
    });

  beforeAll(async () => {
    fake = await CloudWatchFake.start();
    client = new CloudWatchClient(fake.clientConfig());
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    client.destroy();
    await fake.close();
  });

  it('plans to create the three alarms from empty', async () => {
    const sut = manager(specs());

    const plan = await sut.plan();

    expect(plan.create.map((s) => s.alarmName)).toEqual(names);
    expect(plan).toMatchObject({
      update: [],
      delete: [],
      unchanged: [],
      conflicts: [],
    });
    expect(fake.callCount('DescribeAlarms')).toBe(1);
    expect(fake.calls[0].input).toMatchObject({
      AlarmTypes: ['MetricAlarm'],
      AlarmNamePrefix: prefix,
    });
  });

  it('creates tagged alarms pointing at the topic, after which nothing is left to do', async () => {
    const sut = manager(specs());

    const result = await sut.apply();
    const again = await sut.plan();

    expect(result).toEqual({
      created: names,
      updated: [],
      deleted: [],
      skipped: [],
    });
    expect(again).toEqual({
      create: [],
      update: [],
      delete: [],
      unchanged: names,
      conflicts: [],
    });
    const failure = fake.get(names[0])!;
    expect(failure).toMatchObject({
      MetricName: 'SupportModeSuccessRate',
      Namespace: 'AI/Orchestrator/HybridRouting',
      Dimensions: [{ Name: 'Environment', Value: 'production' }],
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 95,
      AlarmActions: [topic],
      OKActions: [topic],
    });
    expect(failure.AlarmDescription).toMatch(/^\[CRITICAL\] /);
    expect(fake.get(names[1])).toMatchObject({
      ExtendedStatistic: 'p95',
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(fake.get(names[1])!.AlarmDescription).toMatch(/^\[WARNING\] /);
    expect(fake.get(names[2])!.AlarmDescription).toMatch(/^\[WARNING\] /);
    for (const name of names) {
      expect(fake.tagsOf(name)).toEqual([
        { Key: DEFAULT_OWNER_TAG.key, Value: DEFAULT_OWNER_TAG.value },
      ]);
    }
  });

  it('plans exactly one update naming threshold when one threshold changes', async () => {
    await manager(specs()).apply();
    const sut = manager(
      specs().map((s) =>
        s.alarmName === names[1] ? { ...s, threshold: 3000 } : s,
      ),
    );

    const plan = await sut.plan();

    expect(plan.update).toHaveLength(1);
    expect(plan.update[0].spec.alarmName).toBe(names[1]);
    expect(plan.update[0].changes).toEqual(['threshold']);
    expect(plan.update[0].diff).toEqual({
      threshold: { from: 5000, to: 3000 },
    });
    expect(plan.unchanged).toEqual([names[0], names[2]]);

    const result = await sut.apply(plan);

    expect(result.updated).toEqual([names[1]]);
    expect(fake.get(names[1])!.Threshold).toBe(3000);
    expect((await sut.plan()).update).toEqual([]);
  });

  it('also names the description when an override changes the threshold text', async () => {
    await manager(specs()).apply();

    const plan = await manager(
      specs({ 'high-latency': { threshold: 3000 } }),
    ).plan();

    expect(plan.update[0].changes).toEqual(['threshold', 'alarmDescription']);
  });

  it('never deletes an alarm it does not own', async () => {
    fake.seed({
      AlarmName: `${prefix}hand-made`,
      MetricName: 'X',
      Namespace: 'Y',
    });
    fake.seed(
      { AlarmName: `${prefix}someone-elses`, MetricName: 'X', Namespace: 'Y' },
      [{ Key: 'ManagedBy', Value: 'terraform' }],
    );
    const sut = manager(specs());

    const plan = await sut.plan();
    const result = await sut.apply(plan);

    expect(plan.delete).toEqual([]);
    expect(result.deleted).toEqual([]);
    expect(fake.get(`${prefix}hand-made`)).toBeDefined();
    expect(fake.get(`${prefix}someone-elses`)).toBeDefined();
    expect(fake.callCount('DeleteAlarms')).toBe(0);
  });

  it('never overwrites an unowned alarm that has a managed name', async () => {
    fake.seed({
      AlarmName: names[0],
      MetricName: 'Manual',
      Namespace: 'Hand/Made',
      Threshold: 1,
    });
    const sut = manager(specs());

    const plan = await sut.plan();
    const result = await sut.apply(plan);

    expect(plan.conflicts).toEqual([
      {
        alarmName: names[0],
        reason: expect.stringContaining('ManagedBy=orchestrator-alerting'),
      },
    ]);
    expect(plan.create.map((s) => s.alarmName)).toEqual([names[1], names[2]]);
    expect(result.created).toEqual([names[1], names[2]]);
    expect(fake.get(names[0])).toMatchObject({
      MetricName: 'Manual',
      Threshold: 1,
    });
    expect(fake.tagsOf(names[0])).toEqual([]);
    const puts = fake.calls.filter((c) => c.operation === 'PutMetricAlarm');
    expect(puts.map((c) => c.input.AlarmName)).toEqual([names[1], names[2]]);
  });

  it('skips a stale create when someone made the alarm by hand since planning', async () => {
    const sut = manager(specs());
    const plan = await sut.plan();
    fake.seed({
      AlarmName: names[2],
      MetricName: 'Manual',
      Namespace: 'Hand/Made',
    });

    const result = await sut.apply(plan);

    expect(result.created).toEqual([names[0], names[1]]);
    expect(result.skipped.map((s) => s.alarmName)).toEqual([names[2]]);
    expect(fake.get(names[2])!.MetricName).toBe('Manual');
  });

  it('deletes an owned alarm that is no longer in the specs', async () => {
    await manager(specs()).apply();
    const sut = manager(specs().filter((s) => s.alarmName !== names[2]));

    const plan = await sut.plan();
    const result = await sut.apply(plan);

    expect(plan.delete).toEqual([names[2]]);
    expect(result.deleted).toEqual([names[2]]);
    expect(fake.get(names[2])).toBeUndefined();
    expect(fake.list().map((a) => a.AlarmName)).toEqual(
      [names[1], names[0]].sort(),
    );
  });

  it('keeps other environments out of scope through the name prefix', async () => {
    await manager(
      hybridRoutingAlarmSpecs({ environment: 'staging', snsTopicArn: topic }),
      hybridRoutingAlarmPrefix('staging'),
    ).apply();

    const plan = await manager(specs()).plan();

    expect(plan.delete).toEqual([]);
    expect(plan.create).toHaveLength(3);
  });

  it('pages through DescribeAlarms and deletes in batches of 100', async () => {
    for (let i = 0; i < 250; i++) {
      fake.seed({ AlarmName: `${prefix}old-${String(i).padStart(3, '0')}` }, [
        { Key: DEFAULT_OWNER_TAG.key, Value: DEFAULT_OWNER_TAG.value },
      ]);
    }
    const sut = manager(specs());

    const plan = await sut.plan();
    const result = await sut.apply(plan);

    expect(plan.delete).toHaveLength(250);
    // 253 alarms in pages of 100 to plan, then 3 by-name look-ups to apply.
    expect(fake.callCount('DescribeAlarms')).toBe(3 + 3);
    expect(result.deleted).toHaveLength(250);
    expect(fake.callCount('DeleteAlarms')).toBe(3);
    expect(fake.list().map((a) => a.AlarmName)).toEqual(names);
  });

  it('rejects specs with both or neither statistic', () => {
    const [spec] = specs();

    expect(() => manager([{ ...spec, extendedStatistic: 'p99' }])).toThrow(
      /exactly one of statistic and extendedStatistic/,
    );
    expect(() => manager([{ ...spec, alarmName: 'elsewhere' }])).toThrow(
      /does not start with/,
    );
  });

  it('lets a reconciler see state and deletion through DescribeAlarms by name', async () => {
    await manager(specs()).apply();
    fake.setState(names[0], 'ALARM');
    fake.remove(names[2]);

    const out = await client.send(
      new DescribeAlarmsCommand({ AlarmNames: [names[0], names[2]] }),
    );

    expect(out.MetricAlarms?.map((a) => [a.AlarmName, a.StateValue])).toEqual([
      [names[0], 'ALARM'],
    ]);
    expect(out.MetricAlarms?.[0].StateUpdatedTimestamp).toBeInstanceOf(Date);
  });

  it('surfaces CloudWatch errors with their query-era code', async () => {
    fake.failNext('DescribeAlarms', {
      status: 400,
      code: 'Throttling',
      message: 'Rate exceeded',
    });

    await expect(manager(specs()).plan()).rejects.toMatchObject({
      name: 'Throttling',
      message: 'Rate exceeded',
    });
  });
});
