import { Injectable } from '@nestjs/common';
import {
  HealthIndicatorService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { DatabaseService } from '../database/database.service.js';
import { outboxStats } from './alerting.metrics.js';

/**
 * A terminus health indicator for a host's own health check: up while the module's
 * database answers, with the outbox backlog (pending, oldest pending age, dead) as detail.
 * A stuck notifier does not fail it: restarting the host would not unstick PagerDuty.
 *
 * ```ts
 * @Get('ready') @HealthCheck()
 * ready() { return this.health.check([() => this.alerting.isHealthy('alerting')]); }
 * ```
 */
@Injectable()
export class AlertingHealthIndicator {
  private readonly indicator = new HealthIndicatorService();

  constructor(private readonly db: DatabaseService) {}

  async isHealthy<const Key extends string = 'alerting'>(
    key: Key = 'alerting' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const check = this.indicator.check(key);
    try {
      const stats = await outboxStats(this.db);
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
