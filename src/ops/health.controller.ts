import {
  Controller,
  Get,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { outboxStats } from './alerting.metrics.js';
import { DatabaseService } from '../database/database.service.js';

/** Each readiness check answers within this, even from a database that accepts and never answers. */
const CHECK_TIMEOUT_MS = 2000;

/**
 * Probes. Liveness only says the event loop answers; readiness needs the database (and,
 * on SQLite, the file it opened still in place), and reports the outbox backlog so an
 * operator sees a stuck notifier without it failing the probe (restarting the instance
 * would not unstick PagerDuty).
 */
@ApiTags('operations')
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({
    summary:
      'Readiness: the database answers; reports the outbox (pending, oldest pending age, dead)',
  })
  @ApiResponse({ status: 200, description: 'ready' })
  @ApiResponse({ status: 503, description: 'not ready (database unreachable)' })
  async ready(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.database(),
        () => this.outbox(),
      ]);
    } catch (error) {
      // Terminus' own body, not the API error shape: probes and dashboards read it as is.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return error.getResponse() as HealthCheckResult;
    }
  }

  // Resolved lazily: the alerting module may be mounted by a host app beside this one.
  private db(): DatabaseService {
    return this.moduleRef.get(DatabaseService, { strict: false });
  }

  private async database() {
    const check = this.indicator.check('database');
    try {
      await withinDeadline(this.db().ping());
      return check.up();
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }

  private async outbox() {
    const check = this.indicator.check('outbox');
    try {
      const stats = await withinDeadline(outboxStats(this.db()));
      return check.up({
        pending: stats.pending,
        oldestPendingAgeSeconds: Math.round(stats.oldestPendingAgeSeconds),
        dead: stats.dead,
      });
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }
}

function withinDeadline<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
      CHECK_TIMEOUT_MS,
    );
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
