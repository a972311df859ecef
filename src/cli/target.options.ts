import type { CliIo } from '../cloudwatch/alarms.cli.js';
import { ServiceClient } from './service-client.js';

/** `--target` / `--api-key`, falling back to ALERTING_TARGET / ALERTING_API_KEY so keys stay out of shell history. */
export const TARGET_OPTIONS = {
  target: { type: 'string' },
  'api-key': { type: 'string' },
} as const;

export const TARGET_HELP = `  --target URL      base URL of a running service (env ALERTING_TARGET)
  --api-key KEY     one of its API_KEYS, sent as Bearer (env ALERTING_API_KEY)`;

export function targetClient(
  values: { target?: string; 'api-key'?: string },
  env: NodeJS.ProcessEnv,
): ServiceClient | undefined {
  const target = values.target ?? env.ALERTING_TARGET;
  if (!target) return undefined;
  return new ServiceClient(target, values['api-key'] ?? env.ALERTING_API_KEY);
}

export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export function reportUsageError(error: UsageError, io: CliIo): number {
  io.err(`error: ${error.message}`);
  io.err(error.usage);
  return 2;
}
