import { parseArgs } from 'node:util';
import type { CliIo } from '../cloudwatch/alarms.cli.js';
import { ServiceError } from './service-client.js';
import {
  TARGET_HELP,
  TARGET_OPTIONS,
  UsageError,
  targetClient,
} from './target.options.js';

export const INCIDENTS_USAGE = `Usage: alerting incidents <list|ack|resolve> [options]

  list [--status s1,s2] [--limit N] [--all] [--json]
        incidents, newest first (status: triggered, acknowledged, resolved)
  ack <dedupKey>       acknowledge the open incident
  resolve <dedupKey>   resolve the open incident

Options:
${TARGET_HELP}
  --json            print the service's JSON instead of a table
  --help            this text`;

interface IncidentRow {
  dedupKey: string;
  status: string;
  severity: string;
  occurrences: number;
  createdAt: string;
  alarmName: string;
}

export async function runIncidents(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...TARGET_OPTIONS,
      status: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.out(INCIDENTS_USAGE);
    return 0;
  }
  const [command, dedupKey, ...extra] = positionals;
  if (!['list', 'ack', 'acknowledge', 'resolve'].includes(command ?? '')) {
    throw new UsageError(
      command
        ? `unknown incidents command "${command}"`
        : 'missing incidents command',
      INCIDENTS_USAGE,
    );
  }
  const client = targetClient(values, env);
  if (!client)
    throw new UsageError(
      '--target is required (or set ALERTING_TARGET)',
      INCIDENTS_USAGE,
    );
  if (command !== 'list' && (!dedupKey || extra.length > 0)) {
    throw new UsageError(
      `incidents ${command} takes exactly one dedupKey`,
      INCIDENTS_USAGE,
    );
  }

  try {
    if (command === 'list') {
      const rows: IncidentRow[] = [];
      let cursor: string | null = null;
      do {
        const query = new URLSearchParams();
        if (values.status) query.set('status', values.status);
        if (values.limit) query.set('limit', values.limit);
        if (cursor) query.set('cursor', cursor);
        const page: { items: IncidentRow[]; nextCursor: string | null } =
          await client.call('GET', `/v1/incidents?${query.toString()}`);
        rows.push(...page.items);
        cursor = values.all ? page.nextCursor : null;
      } while (cursor);
      if (values.json) io.out(JSON.stringify(rows, null, 2));
      else for (const line of table(rows)) io.out(line);
      return 0;
    }
    const action = command === 'resolve' ? 'resolve' : 'acknowledge';
    const incident: IncidentRow = await client.call(
      'POST',
      `/v1/incidents/${encodeURIComponent(dedupKey!)}/${action}`,
    );
    if (values.json) io.out(JSON.stringify(incident, null, 2));
    else io.out(`${incident.dedupKey}: ${incident.status}`);
    return 0;
  } catch (error) {
    if (
      error instanceof ServiceError ||
      error instanceof TypeError ||
      (error as Error)?.name === 'TimeoutError'
    ) {
      io.err(
        `incidents ${command} failed: ${(error as Error).message}${causeOf(error)}`,
      );
      return 1;
    }
    throw error;
  }
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })
    .cause;
  return cause ? ` (${cause.code ?? cause.message})` : '';
}

function table(rows: IncidentRow[]): string[] {
  if (rows.length === 0) return ['no incidents'];
  const header = ['STATUS', 'SEVERITY', 'COUNT', 'CREATED', 'DEDUP KEY'];
  const cells = rows.map((r) => [
    r.status,
    r.severity,
    String(r.occurrences),
    r.createdAt,
    r.dedupKey,
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => c[i].length)),
  );
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)];
}
