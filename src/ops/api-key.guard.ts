import { createHash, timingSafeEqual } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  UnauthorizedException,
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
import { ALERTING_CONFIG } from '../alerting/alerting.options.js';
import type { AlertingConfig } from '../config/alerting.config.js';
import { IS_PUBLIC } from './public.decorator.js';

export const API_KEY_SCHEME = 'api-key';
export const BEARER_SCHEME = 'bearer';

// Digests have a fixed length, so timingSafeEqual never sees unequal lengths and the
// comparison reveals neither a key's content nor its length.
const digest = (value: string) =>
  createHash('sha256').update(value, 'utf8').digest();

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(
  headers: FastifyRequest['headers'],
): string | undefined {
  const auth = headers.authorization;
  if (
    typeof auth === 'string' &&
    auth.length > 7 &&
    auth.slice(0, 7).toLowerCase() === 'bearer '
  ) {
    return auth.slice(7).trim();
  }
  const header = headers['x-api-key'];
  return typeof header === 'string' && header !== '' ? header : undefined;
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

  constructor(
    @Inject(ALERTING_CONFIG) config: AlertingConfig,
    private readonly reflector: Reflector,
  ) {
    this.keys = config.apiKeys.map(digest);
    if (this.keys.length === 0) {
      // Config validation refuses staging/production without keys; this is development.
      this.logger.warn(
        'API_KEYS is empty: the /v1 API is open without authentication (development only)',
      );
    }
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.keys.length === 0) return true;
    if (
      this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
        context.getHandler(),
        context.getClass(),
      ])
    )
      return true;
    const key = presentedKey(
      context.switchToHttp().getRequest<FastifyRequest>().headers,
    );
    if (key === undefined) {
      throw new UnauthorizedException(
        'missing API key: send Authorization: Bearer <key> or X-API-Key: <key>',
      );
    }
    const candidate = digest(key);
    // Every configured key is compared, so timing does not tell which one matched.
    let ok = false;
    for (const k of this.keys) ok = timingSafeEqual(k, candidate) || ok;
    if (!ok) throw new UnauthorizedException('invalid API key');
    return true;
  }
}

const protectedControllers = new WeakSet<Type>();

/**
 * Puts {@link ApiKeyGuard} and the OpenAPI security requirement on each controller, once.
 * Called by the alerting module on its own controller list, so a controller added to
 * that list is protected without anyone remembering a decorator; `@Public()` opts out.
 */
export function protectControllers(controllers: Type[]): void {
  for (const controller of controllers) {
    if (protectedControllers.has(controller)) continue;
    protectedControllers.add(controller);
    UseGuards(ApiKeyGuard)(controller);
    if (Reflect.getMetadata(IS_PUBLIC, controller)) continue;
    ApiBearerAuth(BEARER_SCHEME)(controller);
    ApiSecurity(API_KEY_SCHEME)(controller);
    ApiUnauthorizedResponse({ description: 'missing or invalid API key' })(
      controller,
    );
  }
}
