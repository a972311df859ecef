import {
  Injectable,
  SetMetadata,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';
import { ALERTING_PUBLIC_KEY } from 'orchestrator-alerting';

const HOST_PUBLIC = 'host:public';
/** The host's own marker for routes without a token. */
export const HostPublic = () => SetMetadata(HOST_PUBLIC, true);

/**
 * The host's global guard: `Authorization: Bearer <HOST_TOKEN>` on every route, the
 * alerting ones included (the module runs with `auth: false`). Routes the module marks
 * public (`/alerting/v1/sns`, authenticated by the SNS signature) are skipped.
 */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  private readonly token = Buffer.from(
    `Bearer ${process.env.HOST_TOKEN ?? ''}`,
  );

  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (
      this.reflector.getAllAndOverride<boolean>(ALERTING_PUBLIC_KEY, targets) ||
      this.reflector.getAllAndOverride<boolean>(HOST_PUBLIC, targets)
    )
      return true;
    const presented = Buffer.from(
      context.switchToHttp().getRequest<{ headers: Record<string, string> }>()
        .headers.authorization ?? '',
    );
    if (
      !process.env.HOST_TOKEN ||
      presented.length !== this.token.length ||
      !timingSafeEqual(presented, this.token)
    )
      throw new UnauthorizedException('host token required');
    return true;
  }
}
