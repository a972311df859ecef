import { createHash, timingSafeEqual } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type Type,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  ApiBearerAuth,
  ApiSecurity,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AlertingExceptionFilter } from './alerting-exception.filter.js';
import { ALERTING_PUBLIC_KEY } from './public.decorator.js';

/** Injection token: `{ apiKeys }`, or `false` when the host's own guards protect the module. */
export const ALERTING_AUTH = Symbol('ALERTING_AUTH');
export type AlertingAuth = false | { apiKeys: string[] };

export const API_KEY_SCHEME = 'api-key';
export const BEARER_SCHEME = 'bearer';

// Digests have a fixed length, so timingSafeEqual never sees unequal lengths and the
// comparison reveals neither a key's content nor its length.
const digest = (value: string) =>
  createHash('sha256').update(value, 'utf8').digest();

/**
 * The keys a request presents, `X-API-Key` first: a host's own `Authorization: Bearer`
 * token travels beside the alerting key and must not hide it.
 */
export function presentedKeys(headers: FastifyRequest['headers']): string[] {
  const keys: string[] = [];
  const header = headers['x-api-key'];
  if (typeof header === 'string' && header !== '') keys.push(header);
  const auth = headers.authorization;
  if (
    typeof auth === 'string' &&
    auth.length > 7 &&
    auth.slice(0, 7).toLowerCase() === 'bearer '
  ) {
    keys.push(auth.slice(7).trim());
  }
  return keys;
}

/** The key a request presents first (`X-API-Key`, else `Authorization: Bearer`). */
export function presentedKey(
  headers: FastifyRequest['headers'],
): string | undefined {
  return presentedKeys(headers)[0];
}

/**
 * `API_KEYS` on the alerting module's controllers. Bound to each of them (see
 * {@link protectControllers}) rather than as a global guard, so a host app embedding the
 * module keeps its own routes under its own rules.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly logger = new Logger('Auth');
  private readonly keys: Buffer[];
  private readonly off: boolean;

  constructor(
    @Inject(ALERTING_AUTH) auth: AlertingAuth,
    private readonly reflector: Reflector,
  ) {
    this.off = auth === false;
    this.keys = auth ? auth.apiKeys.map(digest) : [];
    if (!this.off && this.keys.length === 0) {
      // Config validation refuses staging/production without keys; this is development.
      this.logger.warn(
        'API_KEYS is empty: the /v1 API is open without authentication (development only)',
      );
    }
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.off || this.keys.length === 0) return true;
    if (
      this.reflector.getAllAndOverride<boolean>(ALERTING_PUBLIC_KEY, [
        context.getHandler(),
        context.getClass(),
      ])
    )
      return true;
    const presented = presentedKeys(
      context.switchToHttp().getRequest<FastifyRequest>().headers,
    );
    if (presented.length === 0) {
      throw new UnauthorizedException(
        'missing API key: send Authorization: Bearer <key> or X-API-Key: <key>',
      );
    }
    // Every configured key is compared, so timing does not tell which one matched.
    let ok = false;
    for (const key of presented) {
      const candidate = digest(key);
      for (const k of this.keys) ok = timingSafeEqual(k, candidate) || ok;
    }
    if (!ok) throw new UnauthorizedException('invalid API key');
    return true;
  }
}

const protectedControllers = new WeakSet<Type>();

/**
 * Puts {@link ApiKeyGuard}, the domain error filter and the OpenAPI security requirement
 * on each controller, once. Called by every alerting module on its own controller list,
 * so a controller added to it is protected (and keeps its 404/409 when embedded without
 * the standalone's global filter) without anyone remembering a decorator;
 * `@AlertingPublic()` opts out of the key.
 */
export function protectControllers(controllers: Type[]): void {
  for (const controller of controllers) {
    if (protectedControllers.has(controller)) continue;
    protectedControllers.add(controller);
    UseGuards(ApiKeyGuard)(controller);
    UseFilters(AlertingExceptionFilter)(controller);
    if (Reflect.getMetadata(ALERTING_PUBLIC_KEY, controller)) continue;
    ApiBearerAuth(BEARER_SCHEME)(controller);
    ApiSecurity(API_KEY_SCHEME)(controller);
    ApiUnauthorizedResponse({ description: 'missing or invalid API key' })(
      controller,
    );
  }
}
