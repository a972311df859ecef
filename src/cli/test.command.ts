import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliIo } from '../cloudwatch/alarms.cli.js';
import { splitList } from '../config/env.schema.js';
import {
  REPORT_FORMATS,
  renderRun,
  type ReportFormat,
} from './scenarios/report.js';
import { runScenarioFiles, type RunOptions } from './scenarios/run-files.js';
import { scenarioFiles } from './scenarios/scenario-file.js';
import type { RunReport } from './scenarios/scenario.types.js';
import {
  TARGET_HELP,
  TARGET_OPTIONS,
  UsageError,
  targetClient,
} from './target.options.js';

export function testUsage(): string {
  return `Usage: alerting test <file|dir>... [options]

Runs scenario files (YAML; a directory: every .yaml/.yml in it that has steps): steps
send alerts as their sources do, move the clock, and expect what reaches each notifier.
Without --target each file gets the service in-process (in-memory SQLite, a fake
PagerDuty, a clock the file moves: hours take milliseconds), configured by the file's
env and routing. With --target the same files drive a running service and read its
outbox (GET /v1/deliveries); files that move the clock are reported not runnable.
Every file is validated before any runs; a bad one is refused, naming the step.

Options:
${TARGET_HELP}
  --report FORMAT       md (default), json or junit (one testcase per expectation)
  --out FILE            write the report to FILE instead of stdout
  --var NAME=VALUE      set a {{NAME}} of the files (repeatable)
  --notifier NAME       with --target: whose deliveries an expect without notifier reads
  --topic-arn ARN       with --target: cloudwatch steps' topic (in its SNS_TOPIC_ARNS)
  --webhook-secret S    with --target: a PAGERDUTY_WEBHOOK_SECRETS entry, for pagerduty
                        steps (env ALERTING_WEBHOOK_SECRET, else the first of env
                        PAGERDUTY_WEBHOOK_SECRETS)
  --sns-signer          with --target: sign cloudwatch steps with a local certificate on
                        127.0.0.1 (the target must trust it: SNS_CERT_URL_PATTERN)
  --quiet               no progress on stderr
  --verbose             in-process: show the service's warnings and errors on stderr
  --help                this text

Exit codes: 0 every file passed, 1 any expectation failed or a file was refused or not
runnable, 2 usage.`;
}

export const RUN_OPTIONS = {
  ...TARGET_OPTIONS,
  report: { type: 'string', default: 'md' },
  out: { type: 'string' },
  notifier: { type: 'string' },
  'topic-arn': { type: 'string' },
  'webhook-secret': { type: 'string' },
  'sns-signer': { type: 'boolean' },
  quiet: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function reportFormat(value: string, usage: string): ReportFormat {
  if (!REPORT_FORMATS.includes(value as ReportFormat))
    throw new UsageError(
      `--report must be one of ${REPORT_FORMATS.join(', ')}`,
      usage,
    );
  return value as ReportFormat;
}

/** What test and simulate share once the files are known. */
export async function runAndReport(
  files: string[],
  values: {
    report?: string;
    out?: string;
    notifier?: string;
    'topic-arn'?: string;
    'webhook-secret'?: string;
    'sns-signer'?: boolean;
    quiet?: boolean;
    verbose?: boolean;
    target?: string;
    'api-key'?: string;
  },
  env: NodeJS.ProcessEnv,
  io: CliIo,
  usage: string,
  extra: Partial<RunOptions> = {},
): Promise<{ code: number; report: RunReport }> {
  const format = reportFormat(values.report ?? 'md', usage);
  const client = targetClient(values, env);
  const progress = values.quiet ? () => {} : (line: string) => io.err(line);
  const { report, refused } = await runScenarioFiles(files, {
    client,
    notifier: values.notifier,
    snsTopicArn: values['topic-arn'],
    // env: the service's own list, so the secret stays out of shell history
    webhookSecret:
      values['webhook-secret'] ??
      env.ALERTING_WEBHOOK_SECRET ??
      splitList(env.PAGERDUTY_WEBHOOK_SECRETS)[0],
    snsSigner: values['sns-signer'],
    logLevel: values.verbose ? 'warn' : undefined,
    progress,
    ...extra,
  });
  for (const error of refused) {
    io.err(`${error.file}: refused, nothing was run:`);
    for (const p of error.problems) io.err(`  ${p}`);
  }
  const text = renderRun(report, format);
  if (values.out) {
    writeFileSync(values.out, text);
    progress(`report written to ${values.out}`);
  } else io.out(text.trimEnd());
  const passed = report.files.filter((f) => f.status === 'passed').length;
  progress(
    `${report.passed ? 'PASSED' : 'FAILED'}: ${passed}/${report.files.length} file(s) passed in ${report.durationMs} ms`,
  );
  return { code: report.passed ? 0 : 1, report };
}

export async function runTest(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...RUN_OPTIONS, var: { type: 'string', multiple: true } },
    allowPositionals: true,
  });
  if (values.help) {
    io.out(testUsage());
    return 0;
  }
  if (positionals.length === 0)
    throw new UsageError(
      'name at least one scenario file or directory',
      testUsage(),
    );
  const missing = positionals.find((p) => !existsSync(p));
  if (missing)
    throw new UsageError(`no such file or directory: ${missing}`, testUsage());
  reportFormat(values.report, testUsage());
  const vars: Record<string, string> = {};
  for (const v of values.var ?? []) {
    const eq = v.indexOf('=');
    if (eq < 1)
      throw new UsageError(`--var takes NAME=VALUE, got "${v}"`, testUsage());
    vars[v.slice(0, eq)] = v.slice(eq + 1);
  }
  const files = scenarioFiles(positionals);
  if (files.length === 0)
    throw new UsageError(
      `no scenario files in ${positionals.join(', ')}`,
      testUsage(),
    );
  const { code } = await runAndReport(files, values, env, io, testUsage(), {
    vars,
  });
  return code;
}
