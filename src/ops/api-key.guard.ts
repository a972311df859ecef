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
import { DEFAULT_IPV6_SUBNET_PREFIX, normalizeIp } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AlertingExceptionFilter } from './alerting-exception.filter.js';
import { comeBackLater } from './ingest-route.decorator.js';
import { ALERTING_PUBLIC_KEY } from './public.decorator.js';

/** Injection token: `{ apiKeys }`, or `false` when the host's own guards protect the module. */
export const ALERTING_AUTH = Symbol('ALERTING_AUTH');
export type AlertingAuth =
  | false
  | {
      apiKeys: string[];
      /** invalid keys per address and minute before it is locked out; 0 off; default 20 */
      failuresPerMinute?: number;
    };

/** One count per app: the guard is instantiated per module holding alerting controllers. */
const failuresOf = new WeakMap<object, FailureWindows>();

export const API_KEY_SCHEME = 'api-key';
export const BEARER_SCHEME = 'bearer';

const WINDOW_MS = 60_000;
/** Addresses tracked at once; past this the oldest windows are dropped first. */
const MAX_TRACKED_ADDRESSES = 10_000;

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
  private readonly failures: FailureWindows;

  constructor(
    @Inject(ALERTING_AUTH) auth: AlertingAuth,
    private readonly reflector: Reflector,
  ) {
    this.off = auth === false;
    this.keys = auth ? auth.apiKeys.map(digest) : [];
    let failures = auth ? failuresOf.get(auth) : undefined;
    if (auth && !failures) {
      failures = new FailureWindows(auth.failuresPerMinute ?? 20);
      failuresOf.set(auth, failures);
    }
    this.failures = failures ?? new FailureWindows(0);
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
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    // Checked before the key: answering a right key differently while an address is locked
    // out would turn the lockout into an oracle. Every request of that address waits.
    // An IPv6 client owns a whole /64: counted per address, it could rotate past the limit.
    const address = normalizeIp(request.ip, DEFAULT_IPV6_SUBNET_PREFIX);
    const lockedForMs = this.failures.lockedForMs(address);
    if (lockedForMs > 0) {
      void http
        .getResponse<FastifyReply>()
        .header('Retry-After', String(Math.ceil(lockedForMs / 1000)));
      throw comeBackLater(
        context,
        'too many failed API key checks from this address; retry after Retry-After seconds',
      );
    }
    const presented = presentedKeys(request.headers);
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
    if (!ok) {
      if (this.failures.record(address))
        this.logger.warn(
          `address ${address} locked out for up to a minute after repeated invalid API keys`,
        );
      throw new UnauthorizedException('invalid API key');
    }
    return true;
  }
}

/**
 * Invalid keys per source address in fixed one-minute windows: an address that reaches
 * the limit is refused until its window ends, so guessing costs a minute per `limit`
 * tries. A missing key is a misconfiguration, not a guess, and is not counted.
 */
class FailureWindows {
  private readonly windows = new Map<
    string,
    { count: number; endsAt: number }
  >();

  constructor(private readonly limit: number) {}

  lockedForMs(address: string, now = Date.now()): number {
    if (this.limit === 0) return 0;
    const window = this.windows.get(address);
    if (!window) return 0;
    if (window.endsAt <= now) {
      this.windows.delete(address);
      return 0;
    }
    return window.count >= this.limit ? window.endsAt - now : 0;
  }

  /** Counts one failure; true when it locks the address out. */
  record(address: string, now = Date.now()): boolean {
    if (this.limit === 0) return false;
    let window = this.windows.get(address);
    if (!window || window.endsAt <= now) {
      this.windows.delete(address);
      if (this.windows.size >= MAX_TRACKED_ADDRESSES) this.evict(now);
      window = { count: 0, endsAt: now + WINDOW_MS };
      // (re)inserted last, so the map stays ordered by window start
      this.windows.set(address, window);
    }
    window.count += 1;
    return window.count === this.limit;
  }

  private evict(now: number): void {
    for (const [address, window] of this.windows) {
      if (this.windows.size < MAX_TRACKED_ADDRESSES && window.endsAt > now)
        break;
      this.windows.delete(address);
    }
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
