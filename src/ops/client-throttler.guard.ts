import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { presentedKey } from './api-key.guard.js';

/**
 * One budget per client: per API key when one is presented (many clients can share a
 * load balancer's address), else per address. The key is hashed so it never sits in
 * the throttler's storage in clear.
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
}
