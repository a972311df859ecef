import { createHash } from 'node:crypto';
import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { presentedKey } from './api-key.guard.js';
import { comeBackLater } from './ingest-route.decorator.js';

/** The throttler of the ingestion routes (see {@link IngestRoute}); `default` is the rest of the API. */
export const INGEST_THROTTLER = 'ingest';

/**
 * One budget per client: per API key when one is presented (many clients can share a
 * load balancer's address), else per address. The key is hashed so it never sits in
 * the throttler's storage in clear. A webhook sender past its budget gets a 503 (see
 * {@link comeBackLater}), with `Retry-After` either way.
 */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(
    req: Record<string, any>,
  ): Promise<string> {
    const key = presentedKey((req as FastifyRequest).headers);
    if (key !== undefined)
      return `key:${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`;
    return `ip:${(req as FastifyRequest).ip}`;
  }

  // A route is under exactly one of the two throttlers, so the ingest one can use the
  // plain header names (the library would suffix them with "-ingest").
  protected override setResponseHeader(
    res: any,
    name: string,
    value: string | number,
  ): void {
    super.setResponseHeader(
      res,
      name.endsWith(`-${INGEST_THROTTLER}`)
        ? name.slice(0, -INGEST_THROTTLER.length - 1)
        : name,
      value,
    );
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    throw comeBackLater(context, await this.getErrorMessage(context, detail));
  }
}
