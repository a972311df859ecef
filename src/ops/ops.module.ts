import {
  Module,
  type DynamicModule,
  type ExecutionContext,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import type { AlertingConfig } from '../config/alerting.config.js';
import {
  ClientThrottlerGuard,
  INGEST_THROTTLER,
} from './client-throttler.guard.js';
import { ingestSenderOf } from './ingest-route.decorator.js';
import { HealthController } from './health.controller.js';
import { loggerParams } from './logging.js';
import { MetricsController } from './metrics.controller.js';

const MINUTE_MS = 60_000;

/**
 * The standalone service's process-wide concerns: JSON request logs, per-client rate
 * limiting, health and metrics. Global by nature (a logger, an app-wide guard), so it
 * belongs to the host that owns the process, not to the embeddable AlertingModule.
 */
@Module({})
export class OpsModule {
  /** @param configToken the injection token of the validated {@link AlertingConfig} */
  static forRoot(configToken: string | symbol): DynamicModule {
    return {
      module: OpsModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [configToken],
          useFactory: (config: AlertingConfig) => loggerParams(config),
        }),
        ThrottlerModule.forRootAsync({
          inject: [configToken],
          useFactory: (config: AlertingConfig) => ({
            throttlers: [
              {
                ttl: MINUTE_MS,
                limit: Math.max(1, config.rateLimitPerMinute),
                skipIf: (context: ExecutionContext) =>
                  config.rateLimitPerMinute === 0 ||
                  ingestSenderOf(context) !== undefined,
              },
              {
                // Alerts have their own, larger budget: a busy API client must not crowd
                // out a page, and a shed alert costs a retry at best.
                name: INGEST_THROTTLER,
                ttl: MINUTE_MS,
                limit: Math.max(1, config.ingestRateLimitPerMinute),
                skipIf: (context: ExecutionContext) =>
                  config.ingestRateLimitPerMinute === 0 ||
                  ingestSenderOf(context) === undefined,
              },
            ],
            errorMessage: (_context, detail) =>
              `rate limit of ${detail.limit} requests per minute exceeded; retry after Retry-After seconds`,
          }),
        }),
        TerminusModule,
      ],
      controllers: [HealthController, MetricsController],
      providers: [{ provide: APP_GUARD, useClass: ClientThrottlerGuard }],
    };
  }
}
