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
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { outboxStats } from './alerting.metrics.js';
import { getDataSourceToken } from '@nestjs/typeorm';
import { ALERTING_DATA_SOURCE } from '../database/data-source.options.js';
import { DatabaseService } from '../database/database.service.js';

/**
 * Probes. Liveness only says the event loop answers; readiness needs the database, and
 * reports the outbox backlog so an operator sees a stuck notifier without it failing the
 * probe (restarting the instance would not unstick PagerDuty).
 */
@ApiTags('operations')
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly typeorm: TypeOrmHealthIndicator,
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
        () =>
          this.typeorm.pingCheck('database', {
            timeout: 2000,
            connection: this.moduleRef.get(
              getDataSourceToken(ALERTING_DATA_SOURCE),
              { strict: false },
            ),
          }),
        () => this.outbox(),
      ]);
    } catch (error) {
      // Terminus' own body, not the API error shape: probes and dashboards read it as is.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return error.getResponse() as HealthCheckResult;
    }
  }

  private async outbox() {
    const check = this.indicator.check('outbox');
    try {
      // Resolved lazily: the alerting module may be mounted by a host app beside this one.
      const db = this.moduleRef.get(DatabaseService, { strict: false });
      const stats = await outboxStats(db);
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
