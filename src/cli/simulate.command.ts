import { parseArgs } from 'node:util';
import type { CliIo } from '../cloudwatch/alarms.cli.js';
import {
  BUILTIN_SCENARIOS,
  builtinScenarioFile,
  isBuiltinScenario,
} from './scenarios/builtin.js';
import { loadScenario } from './scenarios/scenario-file.js';
import { RUN_OPTIONS, reportFormat, runAndReport } from './test.command.js';
import { clockSteps } from './scenarios/runner.js';
import { TARGET_HELP, UsageError, targetClient } from './target.options.js';

const DEFAULT_STORM_COUNT = 25;
const MAX_STORM_COUNT = 10_000;

export function simulateUsage(): string {
  const scenarios = BUILTIN_SCENARIOS.map((name) => {
    const s = loadScenario(builtinScenarioFile(name));
    const inProcessOnly = clockSteps(s).length > 0;
    return `  ${name.padEnd(24)}${s.description ?? s.name}${inProcessOnly ? ' (in-process only)' : ''}`;
  }).join('\n');
  return `Usage: alerting simulate <scenario> [options]

Runs one of the built-in scenario files (the same format as "alerting test"; copy one
to start your own). Without --target the service runs in-process (in-memory SQLite, a
built-in fake PagerDuty); with --target it drives a running service and reads its
deliveries back. Exit code 1 when any expectation fails.

Scenarios:
${scenarios}

Options:
${TARGET_HELP}
  --report FORMAT   md (default), json or junit
  --out FILE        write the report to FILE instead of stdout
  --count N         storm: number of distinct alerts (default ${DEFAULT_STORM_COUNT})
  --topic-arn ARN   cloudwatch-alarm-cycle with --target: a topic in the target's SNS_TOPIC_ARNS
  --notifier NAME   with --target: whose deliveries to check (default pagerduty)
  --quiet           no progress on stderr
  --verbose         in-process: show the service's warnings and errors on stderr
  --help            this text

With --target, cloudwatch-alarm-cycle signs with a local certificate served on
127.0.0.1: the target must trust it (SNS_CERT_URL_PATTERN=^http://127\\.0\\.0\\.1:).`;
}

export async function runSimulate(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...RUN_OPTIONS, count: { type: 'string' } },
    allowPositionals: true,
  });
  if (values.help) {
    io.out(simulateUsage());
    return 0;
  }
  const [name, ...extra] = positionals;
  if (!name) throw new UsageError('missing scenario', simulateUsage());
  if (!isBuiltinScenario(name))
    throw new UsageError(`unknown scenario "${name}"`, simulateUsage());
  if (extra.length > 0)
    throw new UsageError(`unexpected argument "${extra[0]}"`, simulateUsage());
  reportFormat(values.report, simulateUsage());
  const moving = clockSteps(loadScenario(builtinScenarioFile(name)));
  if (targetClient(values, env) && moving.length > 0)
    throw new UsageError(
      `${name} moves the clock or scripts the built-in fake PagerDuty (${moving.join(', ')}); run it without --target`,
      simulateUsage(),
    );
  const count =
    values.count === undefined ? DEFAULT_STORM_COUNT : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > MAX_STORM_COUNT) {
    throw new UsageError(
      `--count must be an integer from 1 to ${MAX_STORM_COUNT}`,
      simulateUsage(),
    );
  }
  const { code } = await runAndReport(
    [builtinScenarioFile(name)],
    // the built-in cloudwatch scenario signs its own deliveries against a target too
    { ...values, 'sns-signer': true },
    env,
    io,
    simulateUsage(),
    { vars: { count } },
  );
  return code;
}
