#!/usr/bin/env node
import { runAlarmsCli, type CliIo } from '../cloudwatch/alarms.cli.js';
import { runCheckConfig } from './check-config.command.js';
import { runIncidents } from './incidents.command.js';
import { runRoutes } from './routes.command.js';
import { runSimulate } from './simulate.command.js';
import { runTest } from './test.command.js';
import { reportUsageError, UsageError } from './target.options.js';
import { isEntryPoint } from '../ops/entry-point.js';

export const USAGE = `Usage: alerting <command> [options]

Commands:
  test <file|dir>...         run scenario files (YAML) and check what reaches the notifiers
  simulate <scenario>        run a built-in scenario and check what reaches PagerDuty
  check-config               validate the environment as the service would; show it masked
  incidents list|ack|resolve list or change incidents of a running service
  alarms plan|apply          keep the CloudWatch alarms in line with the code
  routes test                which route an alert takes in a routing file (offline)

Run "alerting <command> --help" for its options.
Exit codes: 0 success, 1 failure (a failed expectation, invalid config, an error answer), 2 usage.`;

/** Returns the exit code; never calls `process.exit`, so tests can drive it in-process. */
export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  },
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'test':
        return await runTest(rest, env, io);
      case 'simulate':
        return await runSimulate(rest, env, io);
      case 'check-config':
        return runCheckConfig(rest, env, io);
      case 'incidents':
        return await runIncidents(rest, env, io);
      case 'routes':
        return runRoutes(rest, env, io);
      case 'alarms':
        return await runAlarmsCli(rest, env, io);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`, USAGE);
    }
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error, io);
    // parseArgs: unknown option, missing value
    if ((error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      return reportUsageError(
        new UsageError((error as Error).message, USAGE),
        io,
      );
    }
    throw error;
  }
}

if (isEntryPoint(import.meta.url)) {
  const code = await runCli(process.argv.slice(2));
  process.exitCode = code;
  // A stray handle (an SDK socket, a timer of the in-process app) must not keep the CLI alive.
  setTimeout(() => process.exit(code), 3000).unref();
}
