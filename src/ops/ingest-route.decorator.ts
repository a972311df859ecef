import {
  HttpException,
  HttpStatus,
  SetMetadata,
  type ExecutionContext,
} from '@nestjs/common';

export const INGEST_SENDER = 'alerting:ingest-sender';

/**
 * Who sends to an ingestion route, which decides how it may be refused when it must wait:
 * `api` (our HTTP clients) gets `429`, `webhook` (Alertmanager, SNS, EventBridge) gets
 * `503`, the only status all of those retry; Alertmanager drops a group on any 4xx.
 */
export type IngestSender = 'api' | 'webhook';

/** Marks an ingestion controller or route: its own rate limit, and refusals its sender retries. */
export const IngestRoute = (sender: IngestSender) =>
  SetMetadata(INGEST_SENDER, sender);

export function ingestSenderOf(
  context: ExecutionContext,
): IngestSender | undefined {
  return (Reflect.getMetadata(INGEST_SENDER, context.getHandler()) ??
    Reflect.getMetadata(INGEST_SENDER, context.getClass())) as
    IngestSender | undefined;
}

/**
 * The answer to a request that must come back later (rate limit, locked-out address):
 * `503` for a webhook sender, else `429`. The caller sets `Retry-After`.
 */
export function comeBackLater(
  context: ExecutionContext,
  message: string,
): HttpException {
  const status =
    ingestSenderOf(context) === 'webhook'
      ? HttpStatus.SERVICE_UNAVAILABLE
      : HttpStatus.TOO_MANY_REQUESTS;
  return new HttpException(message, status);
}
