import {
  ArgumentsHost,
  Catch,
  HttpException,
  Logger,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { isDatabaseUnavailable } from '../database/database-unavailable.js';
import { AlertingError } from './alerting.errors.js';
import { capErrors } from './validation.js';

/** What a 503 asks of the sender when nothing more precise is known. */
const RETRY_AFTER_SECONDS = '5';

const DOMAIN_STATUS = {
  'not-found': 404,
  conflict: 409,
  invalid: 400,
  unavailable: 503,
} as const;
const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Every error becomes `{ statusCode, error, message }`. Domain errors map by code; HTTP
 * errors (validation, Fastify's own 413/415) keep their status; a database that cannot be
 * reached or does not answer is a 503; anything else is logged with its stack and
 * answered with a bare 500, so no internals leak. Every 503 carries `Retry-After`.
 */
@Catch()
export class AlertingExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, message, headers } = this.describe(exception);
    // A deliberate HTTP 5xx (a shed webhook) is no fault to log. An outage fails every
    // request alike: one line each, not a stack each.
    if (status >= 500 && !(exception instanceof HttpException))
      this.logger.error(
        databaseDown(exception)
          ? `${status}: database unavailable: ${messagesOf(exception)}`
          : stackOf(exception),
      );
    for (const [k, v] of Object.entries(headers)) void reply.header(k, v);
    // A rate limit or lockout sets its own; every other 503 is worth a retry a bit later.
    if (status === 503 && !reply.hasHeader('retry-after'))
      void reply.header('Retry-After', RETRY_AFTER_SECONDS);
    void reply
      .status(status)
      .send({ statusCode: status, error: REASON[status] ?? 'Error', message });
  }

  private describe(exception: unknown): {
    status: number;
    message: unknown;
    headers: Record<string, string>;
  } {
    if (exception instanceof AlertingError) {
      return {
        status: DOMAIN_STATUS[exception.code],
        message: exception.problems
          ? capErrors(exception.problems)
          : exception.message,
        headers: {},
      };
    }
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const message =
        typeof body === 'object' && body !== null && 'message' in body
          ? body.message
          : body;
      return {
        status: exception.getStatus(),
        message: Array.isArray(message)
          ? capErrors(message as string[])
          : message,
        headers: {},
      };
    }
    const e = exception as {
      statusCode?: number;
      message?: string;
      code?: string;
    };
    if (
      typeof e?.statusCode === 'number' &&
      e.statusCode >= 400 &&
      e.statusCode < 500
    ) {
      // Fastify's own errors (body too large, bad JSON, unsupported media type) are safe to show.
      const message =
        e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'request body exceeds 1 MiB'
          : e.message;
      return { status: e.statusCode, message, headers: {} };
    }
    if (databaseDown(exception)) {
      return {
        status: 503,
        message: 'the database is unavailable right now; retry',
        headers: {},
      };
    }
    return { status: 500, message: 'internal error', headers: {} };
  }
}

/** The stack, and the cause's below it: one log line says what failed and why. */
function stackOf(exception: unknown): string {
  const own = (exception as Error)?.stack ?? String(exception);
  const cause = (exception as Error)?.cause;
  return cause === undefined ? own : `${own}\ncaused by: ${stackOf(cause)}`;
}

function databaseDown(exception: unknown): boolean {
  return (
    !(exception instanceof HttpException) &&
    !(exception instanceof AlertingError) &&
    isDatabaseUnavailable(exception)
  );
}

function messagesOf(exception: unknown): string {
  const own = (exception as Error)?.message ?? String(exception);
  const cause = (exception as Error)?.cause;
  return cause === undefined ? own : `${own} (caused by: ${messagesOf(cause)})`;
}
