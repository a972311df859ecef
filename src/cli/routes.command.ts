import { parseArgs } from 'node:util';
import type { CliIo } from '../cloudwatch/alarms.cli.js';
import { AlertDto } from '../alerting/dto/alert.dto.js';
import { collectDtoErrors } from '../ops/validation.js';
import {
  RoutingFileError,
  describeMatch,
  routableOf,
} from '../routing/routing-table.js';
import { loadRoutingFile } from '../routing/routing.service.js';
import { UsageError } from './target.options.js';

export const ROUTES_USAGE = `Usage: alerting routes test --file <routing.yaml> '<alert json>' [options]

Answers offline which route the alert takes, its notifiers and PagerDuty key names
(never the keys), and its pageAfter pause. Silences and inhibitions live in the running
service: ask POST /v1/routing/test for those. Exits 1 when the file is bad or an
--expect-route does not match.

  --file <path>          the routing file (YAML or JSON)
  --expect-route <name>  the route the alert must take (repeat for continue: true chains)
  --via <source>         the ingest source to match on: http (default), template, sns,
                         eventbridge, alertmanager
  --env <name>           the environment an alert without one gets (default APP_ENV or development)
  --json                 print the answer as JSON`;

export function runRoutes(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): number {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === undefined) {
    io.out(ROUTES_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'test')
    throw new UsageError(`unknown routes command "${sub}"`, ROUTES_USAGE);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      file: { type: 'string' },
      'expect-route': { type: 'string', multiple: true },
      via: { type: 'string', default: 'http' },
      env: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.out(ROUTES_USAGE);
    return 0;
  }
  if (!values.file) throw new UsageError('--file is required', ROUTES_USAGE);
  if (positionals.length !== 1)
    throw new UsageError('give exactly one alert as JSON', ROUTES_USAGE);
  let body: unknown;
  try {
    body = JSON.parse(positionals[0]);
  } catch (error) {
    io.err(`alert: not JSON: ${(error as Error).message}`);
    return 1;
  }
  const checked = collectDtoErrors(AlertDto, body);
  if (checked.errors.length > 0) {
    io.err(`alert invalid:`);
    for (const e of checked.errors) io.err(`  - ${e}`);
    return 1;
  }
  let table;
  try {
    const notifiers = env.NOTIFIERS?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    table = loadRoutingFile(
      values.file,
      env,
      notifiers?.length ? notifiers : undefined,
    );
  } catch (error) {
    if (!(error instanceof RoutingFileError)) throw error;
    io.err(error.message);
    return 1;
  }
  const alert = routableOf(
    checked.value!,
    {
      environment: values.env ?? env.APP_ENV ?? 'development',
      component: env.ALERT_COMPONENT ?? 'hybrid-routing',
      group: env.ALERT_GROUP ?? 'ai-orchestrator',
    },
    values.via,
  );
  const answer = describeMatch(table.match(alert), [
    '(every enabled notifier)',
  ]);
  if (values.json) io.out(JSON.stringify(answer, null, 2));
  else {
    io.out(`route: ${answer.routes.join(' + ')}`);
    io.out(`notifiers: ${answer.notifiers.join(', ')}`);
    if (answer.pagerdutyKeys.length > 0)
      io.out(`pagerduty keys: ${answer.pagerdutyKeys.join(', ')}`);
    if (answer.pageAfterMs) io.out(`held: pageAfter ${answer.pageAfterMs} ms`);
  }
  const expected = values['expect-route'];
  if (expected && expected.join(',') !== answer.routes.join(',')) {
    io.err(
      `expected route ${expected.join(' + ')}, got ${answer.routes.join(' + ')}`,
    );
    return 1;
  }
  return 0;
}
