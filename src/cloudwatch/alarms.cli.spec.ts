import { CloudWatchFake } from '../testing/cloudwatch.fake.js';
import { runAlarmsCli } from './alarms.cli.js';

describe(runAlarmsCli.name, () => {
  let fake: CloudWatchFake;
  let env: NodeJS.ProcessEnv;

  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAlarmsCli(args, env, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  beforeAll(async () => {
    fake = await CloudWatchFake.start();
  });
  beforeEach(() => {
    env = {
      APP_ENV: 'staging',
      AWS_REGION: fake.region,
      AWS_ENDPOINT_URL: fake.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      SNS_TOPIC_ARN: 'arn:aws:sns:eu-central-1:123456789012:alerts',
    };
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it('prints the usage on --help', async () => {
    const sut = await run('--help');

    expect(sut.code).toBe(0);
    expect(sut.out).toContain('Usage: npm run alarms -- <plan|apply>');
  });

  it('exits 2 (usage) on an unknown or missing command, 1 on bad configuration', async () => {
    const unknown = await run('destroy');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "destroy"');
    expect((await run()).code).toBe(2);
    env.SNS_TOPIC_ARN = undefined;
    env.APP_ENV = 'prod';

    const sut = await run('plan');

    expect(sut.code).toBe(1);
    expect(sut.err).toContain('SNS_TOPIC_ARN is required');
    expect(sut.err).toContain('APP_ENV must be one of');
    expect(fake.callCount()).toBe(0);
  });

  it('plans without writing, then applies', async () => {
    const plan = await run('plan');

    expect(plan.code).toBe(0);
    expect(plan.out).toContain(
      '+ create     staging-hybrid-routing-high-latency',
    );
    expect(plan.out).toContain('Plan: 3 to create, 0 to update, 0 to delete');
    expect(fake.callCount('PutMetricAlarm')).toBe(0);

    const apply = await run('apply');

    expect(apply.code).toBe(0);
    expect(apply.out).toContain('Applied: 3 created, 0 updated, 0 deleted');
    expect(fake.list()).toHaveLength(3);
    expect((await run('apply')).out).toContain('Nothing to apply.');
  });

  it('shows field changes in the plan', async () => {
    await run('apply');
    env.SNS_TOPIC_ARN = 'arn:aws:sns:eu-central-1:123456789012:other';

    const sut = await run('plan');

    expect(sut.out).toContain(
      'alarmActions: "arn:aws:sns:eu-central-1:123456789012:alerts" -> "arn:aws:sns:eu-central-1:123456789012:other"',
    );
    expect(sut.out).toContain('Plan: 0 to create, 3 to update');
  });

  it('exits 1 when an alarm is someone else’s, after applying the rest', async () => {
    fake.seed({ AlarmName: 'staging-hybrid-routing-high-latency' });

    const sut = await run('apply');

    expect(sut.code).toBe(1);
    expect(sut.out).toContain(
      '! conflict   staging-hybrid-routing-high-latency',
    );
    expect(sut.out).toContain('Applied: 2 created');
  });

  it('exits 1 with the AWS error when CloudWatch fails', async () => {
    fake.failNext('DescribeAlarms', {
      status: 403,
      code: 'AccessDenied',
      message: 'not authorized to perform cloudwatch:DescribeAlarms',
    });

    const sut = await run('plan');

    expect(sut.code).toBe(1);
    expect(sut.err).toContain(
      'alarms plan failed: AccessDenied: not authorized to perform cloudwatch:DescribeAlarms',
    );
  });
});
