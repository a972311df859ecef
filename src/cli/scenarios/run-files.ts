import type { ServiceClient } from '../service-client.js';
import { SnsTestSigner } from '../../testing/sns-test-signer.js';
import { startInProcess, targetDriver, type Driver } from './drivers.js';
import { formatMs } from './report.js';
import { clockSteps, notRunnableReport, runScenario } from './runner.js';
import {
  loadScenario,
  ScenarioFileError,
  type LoadOptions,
} from './scenario-file.js';
import type { FileReport, RunReport, Scenario } from './scenario.types.js';

export interface RunOptions extends LoadOptions {
  /** a running service; without it each file gets its own in-process one */
  client?: ServiceClient;
  snsTopicArn?: string;
  webhookSecret?: string;
  /** against a target: start the SNS signer for cloudwatch steps */
  snsSigner?: boolean;
  /** against a target: the notifier an `expect` without `notifier` reads (default pagerduty) */
  notifier?: string;
  logLevel?: string;
  progress: (line: string) => void;
}

/**
 * Every file is loaded and validated before any runs, so a typo in the tenth file stops
 * the run before the first has sent anything. Returns the report and the refused files.
 */
export async function runScenarioFiles(
  files: string[],
  options: RunOptions,
): Promise<{ report: RunReport; refused: ScenarioFileError[] }> {
  const started = Date.now();
  const scenarios: Scenario[] = [];
  const refused: ScenarioFileError[] = [];
  for (const file of files) {
    try {
      scenarios.push(loadScenario(file, options));
    } catch (error) {
      if (error instanceof ScenarioFileError) refused.push(error);
      else throw error;
    }
  }
  const target = options.client?.baseUrl ?? 'in-process';
  const reports: FileReport[] = [];
  if (refused.length === 0) {
    let signer: SnsTestSigner | undefined;
    try {
      if (
        options.client &&
        options.snsSigner &&
        scenarios.some((s) => s.steps.some((st) => st.kind === 'cloudwatch'))
      )
        signer = await SnsTestSigner.start();
      for (const scenario of scenarios)
        reports.push(await runOne(scenario, options, signer));
    } finally {
      await signer?.stop();
    }
  } else {
    for (const error of refused)
      reports.push({
        file: error.file,
        name: error.file,
        target,
        status: 'invalid',
        startedAt: new Date(started).toISOString(),
        durationMs: 0,
        scenarioMs: 0,
        expectations: [],
        steps: [],
        error: error.problems.join('; '),
      });
  }
  const report: RunReport = {
    target,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    passed: reports.length > 0 && reports.every((f) => f.status === 'passed'),
    files: reports,
  };
  return { report, refused };
}

async function runOne(
  scenario: Scenario,
  options: RunOptions,
  signer: SnsTestSigner | undefined,
): Promise<FileReport> {
  const { progress } = options;
  const target = options.client?.baseUrl ?? 'in-process';
  if (options.client) {
    const moving = clockSteps(scenario);
    if (moving.length > 0) {
      const why = `moves the clock or scripts the fake PagerDuty (${moving.join(', ')}); a running service keeps its own`;
      progress(`${scenario.file}: not runnable against ${target}: ${why}`);
      return notRunnableReport(scenario, target, why);
    }
  }
  if (options.notifier && options.notifier !== 'pagerduty')
    for (const step of scenario.steps)
      if (
        (step.kind === 'expect' && !step.body.expect.notifier) ||
        (step.kind === 'none' && typeof step.body.none !== 'object')
      )
        step.body[step.kind] =
          step.kind === 'expect'
            ? { ...step.body.expect, notifier: options.notifier }
            : { for: step.body.none, notifier: options.notifier };
  progress(`${scenario.file}: ${scenario.name}`);
  let driver: Driver;
  const wall = Date.now();
  try {
    driver = options.client
      ? targetDriver(options.client, {
          snsTopicArn: options.snsTopicArn,
          webhookSecret: options.webhookSecret,
          signer,
        })
      : await startInProcess(scenario, { logLevel: options.logLevel });
  } catch (error) {
    return {
      ...notRunnableReport(scenario, target, ''),
      status: 'failed',
      error: `could not start: ${describeError(error)}`,
    };
  }
  const startMs = Date.now() - wall;
  let report: FileReport;
  try {
    report = await runScenario(scenario, driver, progress);
  } finally {
    await driver
      .close()
      .catch((error) => progress(`  shutdown: ${describeError(error)}`));
  }
  const failed = report.expectations.filter((e) => !e.passed && !e.skipped);
  progress(
    `${scenario.file}: ${report.status.toUpperCase()} ` +
      `(${report.expectations.length - failed.length}/${report.expectations.length} expectations, ` +
      `${scenario.steps.length} steps in ${report.durationMs} ms` +
      `${driver.inProcess ? ` after a ${startMs} ms start, scenario clock +${formatMs(report.scenarioMs)}` : ''})`,
  );
  for (const e of failed) {
    progress(`  ✗ ${e.id}: ${e.message}`);
    for (const line of e.diff ?? []) progress(`    ${line}`);
  }
  if (report.error) progress(`  stopped at ${report.error}`);
  return report;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } })
      .cause;
    return `${error.message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
  }
  return String(error);
}
