import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  AlarmManager,
  type AlarmApplyResult,
  type AlarmPlan,
} from './alarm-manager.js';
import {
  hybridRoutingAlarmPrefix,
  hybridRoutingAlarmSpecs,
} from './alarm-specs.js';
import { isEntryPoint } from '../ops/entry-point.js';

const USAGE = `Usage: npm run alarms -- <plan|apply> [--help]

Keeps the hybrid-routing CloudWatch alarms of one environment in line with the code.

  plan    show what would be created, updated or deleted (changes nothing)
  apply   create/update with PutMetricAlarm, delete owned alarms no longer defined

Exit codes: 0 success, 1 failure (invalid configuration, a conflict, an AWS error), 2 usage.

Only alarms tagged ManagedBy=orchestrator-alerting and named <APP_ENV>-hybrid-routing-*
are ever changed or deleted; a same-named alarm without the tag is reported as a
conflict and left alone (apply then exits 1).

Environment:
  APP_ENV           development | staging | production (default development)
  SNS_TOPIC_ARN     topic of the alarm and OK actions (required)
  AWS_REGION        default eu-central-1
  AWS_ENDPOINT_URL  optional, e.g. a local fake
  plus the usual AWS SDK credential variables / profile`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const ENVIRONMENTS = ['development', 'staging', 'production'];

/** Returns the exit code; never calls `process.exit`, so tests can drive it. */
export async function runAlarmsCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo = { out: console.log, err: console.error },
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  const command = args[0];
  if (command !== 'plan' && command !== 'apply') {
    io.err(command ? `unknown command "${command}"` : 'missing command');
    io.err(USAGE);
    // a usage error, as for every other command of the CLI: scripts tell it from a failed apply
    return 2;
  }

  const environment = env.APP_ENV || 'development';
  const region = env.AWS_REGION || 'eu-central-1';
  const snsTopicArn = env.SNS_TOPIC_ARN;
  const problems: string[] = [];
  if (!ENVIRONMENTS.includes(environment)) {
    problems.push(`APP_ENV must be one of ${ENVIRONMENTS.join(', ')}`);
  }
  if (!snsTopicArn) {
    problems.push('SNS_TOPIC_ARN is required');
  } else if (
    !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]+$/.test(snsTopicArn)
  ) {
    problems.push('SNS_TOPIC_ARN is not an SNS topic ARN');
  }
  if (problems.length > 0) {
    io.err(`invalid configuration: ${problems.join('; ')}`);
    return 1;
  }

  const client = new CloudWatchClient({
    region,
    ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}),
    // The SDK would read these from process.env itself; taking them from `env` keeps
    // the function honest about its inputs. Otherwise: the default provider chain.
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
            sessionToken: env.AWS_SESSION_TOKEN,
          },
        }
      : {}),
  });
  const namePrefix = hybridRoutingAlarmPrefix(environment);
  try {
    const manager = new AlarmManager({
      client,
      specs: hybridRoutingAlarmSpecs({
        environment,
        snsTopicArn: snsTopicArn!,
      }),
      namePrefix,
    });
    io.out(`CloudWatch alarms ${namePrefix}* in ${region}`);
    const plan = await manager.plan();
    for (const line of formatPlan(plan)) io.out(line);
    if (command === 'plan') return 0;

    if (isEmpty(plan)) {
      io.out('Nothing to apply.');
      return plan.conflicts.length > 0 ? 1 : 0;
    }
    const result = await manager.apply(plan);
    for (const line of formatApplyResult(result)) io.out(line);
    const conflicts = plan.conflicts.length + result.skipped.length;
    if (conflicts > 0) {
      io.err(`${conflicts} alarm(s) left untouched because we do not own them`);
      return 1;
    }
    return 0;
  } catch (error) {
    io.err(`alarms ${command} failed: ${describeError(error)}`);
    return 1;
  } finally {
    client.destroy();
  }
}

export function formatPlan(plan: AlarmPlan): string[] {
  const lines: string[] = [];
  for (const spec of plan.create)
    lines.push(`  + create     ${spec.alarmName}`);
  for (const u of plan.update) {
    lines.push(`  ~ update     ${u.spec.alarmName}`);
    for (const field of u.changes) {
      const { from, to } = u.diff[field];
      lines.push(`                 ${field}: ${show(from)} -> ${show(to)}`);
    }
  }
  for (const name of plan.delete) lines.push(`  - delete     ${name}`);
  for (const name of plan.unchanged) lines.push(`  = unchanged  ${name}`);
  for (const c of plan.conflicts) {
    lines.push(`  ! conflict   ${c.alarmName}: ${c.reason}`);
  }
  lines.push(
    `Plan: ${plan.create.length} to create, ${plan.update.length} to update, ` +
      `${plan.delete.length} to delete, ${plan.unchanged.length} unchanged, ` +
      `${plan.conflicts.length} conflict(s).`,
  );
  return lines;
}

export function formatApplyResult(result: AlarmApplyResult): string[] {
  return [
    ...result.created.map((n) => `  created  ${n}`),
    ...result.updated.map((n) => `  updated  ${n}`),
    ...result.deleted.map((n) => `  deleted  ${n}`),
    ...result.skipped.map((s) => `  skipped  ${s.alarmName}: ${s.reason}`),
    `Applied: ${result.created.length} created, ${result.updated.length} updated, ` +
      `${result.deleted.length} deleted, ${result.skipped.length} skipped.`,
  ];
}

function isEmpty(plan: AlarmPlan): boolean {
  return plan.create.length + plan.update.length + plan.delete.length === 0;
}

function show(value: unknown): string {
  return value === undefined || value === '' ? '(none)' : JSON.stringify(value);
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.name && error.name !== 'Error'
      ? `${error.name}: ${error.message}`
      : error.message;
  }
  return String(error);
}

if (isEntryPoint(import.meta.url)) {
  process.exitCode = await runAlarmsCli(process.argv.slice(2), process.env);
}
