import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliIo } from '../cloudwatch/alarms.cli.js';
import { splitList } from '../config/env.schema.js';
import {
  renderReport,
  REPORT_FORMATS,
  type ReportFormat,
} from './simulator/report.js';
import {
  describeError,
  ScenarioContext,
} from './simulator/scenario-context.js';
import {
  isScenarioName,
  SCENARIO_NAMES,
  SCENARIOS,
} from './simulator/scenarios.js';
import type { SimulationTarget } from './simulator/simulation.types.js';
import { SnsTestSigner } from '../testing/sns-test-signer.js';
import { remoteTarget, startInProcessTarget } from './simulator/targets.js';
import {
  TARGET_HELP,
  TARGET_OPTIONS,
  UsageError,
  targetClient,
} from './target.options.js';

const DEFAULT_STORM_COUNT = 25;
const MAX_STORM_COUNT = 10_000;

export function simulateUsage(): string {
  const scenarios = SCENARIO_NAMES.map((name) => {
    const s = SCENARIOS[name];
    const expectations = s
      .expectations({ count: DEFAULT_STORM_COUNT })
      .map((e) => `        - ${e.description}`)
      .join('\n');
    return `  ${name.padEnd(24)}${s.summary}${s.inProcessOnly ? ' (in-process only)' : ''}\n${expectations}`;
  }).join('\n');
  return `Usage: alerting simulate <scenario> [options]

Drives the service through a scenario and checks what reaches PagerDuty: which events,
in which order, within which time. Without --target the service runs in-process
(in-memory SQLite, a built-in fake PagerDuty); with --target it drives a running service
and reads its deliveries back. Exit code 1 when any expectation fails.

Scenarios:
${scenarios}

Options:
${TARGET_HELP}
  --report FORMAT   md (default), json or junit
  --out FILE        write the report to FILE instead of stdout
  --count N         storm: number of distinct alerts (default ${DEFAULT_STORM_COUNT})
  --topic-arn ARN   cloudwatch-alarm-cycle with --target: a topic in the target's SNS_TOPIC_ARNS
  --notifier NAME   with --target: whose deliveries to check (default pagerduty)
  --webhook-secret S  pagerduty-resolve with --target: one of its PAGERDUTY_WEBHOOK_SECRETS
                    (default: the first of env PAGERDUTY_WEBHOOK_SECRETS)
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
    options: {
      ...TARGET_OPTIONS,
      report: { type: 'string', default: 'md' },
      out: { type: 'string' },
      count: { type: 'string' },
      'topic-arn': { type: 'string' },
      notifier: { type: 'string' },
      'webhook-secret': { type: 'string' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.out(simulateUsage());
    return 0;
  }
  const [name, ...extra] = positionals;
  if (!name) throw new UsageError('missing scenario', simulateUsage());
  if (!isScenarioName(name))
    throw new UsageError(`unknown scenario "${name}"`, simulateUsage());
  if (extra.length > 0)
    throw new UsageError(`unexpected argument "${extra[0]}"`, simulateUsage());
  const format = values.report as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) {
    throw new UsageError(
      `--report must be one of ${REPORT_FORMATS.join(', ')}`,
      simulateUsage(),
    );
  }
  const count =
    values.count === undefined ? DEFAULT_STORM_COUNT : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > MAX_STORM_COUNT) {
    throw new UsageError(
      `--count must be an integer from 1 to ${MAX_STORM_COUNT}`,
      simulateUsage(),
    );
  }
  const scenario = SCENARIOS[name];
  const client = targetClient(values, env);
  if (client && scenario.inProcessOnly) {
    throw new UsageError(
      `${name} scripts the built-in fake PagerDuty; run it without --target`,
      simulateUsage(),
    );
  }
  const progress = values.quiet ? () => {} : (line: string) => io.err(line);

  progress(
    `simulate ${name}: starting ${client ? `against ${client.baseUrl}` : 'the service in-process'}`,
  );
  let target: SimulationTarget;
  try {
    target = client
      ? remoteTarget(client, {
          snsTopicArn: values['topic-arn'],
          notifier: values.notifier,
          // env: the service's own list, so the secret stays out of shell history
          webhookSecret:
            values['webhook-secret'] ??
            splitList(env.PAGERDUTY_WEBHOOK_SECRETS)[0],
          signer: scenario.sns ? await SnsTestSigner.start() : undefined,
        })
      : await startInProcessTarget({
          sns: Boolean(scenario.sns),
          logLevel: values.verbose ? 'warn' : undefined,
        });
  } catch (error) {
    io.err(`simulate ${name}: could not start: ${describeError(error)}`);
    return 1;
  }

  const options = { count };
  const ctx = new ScenarioContext(
    target,
    scenario.expectations(options),
    progress,
  );
  let failure: unknown;
  try {
    await scenario.run(ctx, options);
  } catch (error) {
    failure = error;
  }
  let dead = await ctx.deadDeliveries().catch(() => []);
  const report = ctx.report(name, scenario.summary, failure, dead);
  await target
    .close()
    .catch((error) =>
      io.err(`simulate ${name}: shutdown: ${describeError(error)}`),
    );

  const text = renderReport(report, format);
  if (values.out) {
    writeFileSync(values.out, text);
    progress(`report written to ${values.out}`);
  } else {
    io.out(text.trimEnd());
  }
  const failed = report.expectations.filter((e) => !e.passed);
  progress(
    `simulate ${name}: ${report.passed ? 'PASSED' : 'FAILED'} ` +
      `(${report.expectations.length - failed.length}/${report.expectations.length} expectations, ${report.durationMs} ms)`,
  );
  for (const e of failed) progress(`  ✗ ${e.id}: ${e.message}`);
  dead = report.deadDeliveries;
  for (const d of dead)
    progress(
      `  dead delivery ${d.deliveryId ?? ''} ${d.action} ${d.dedupKey}: ${d.error ?? 'refused'}`,
    );
  return report.passed ? 0 : 1;
}
