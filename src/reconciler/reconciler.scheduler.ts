import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { AlertingConfig } from '../config/alerting.config.js';
import {
  ALERTING_CONFIG,
  ALERTING_OPTIONS,
  type AlertingModuleOptions,
} from '../alerting/alerting.options.js';
import { ReconcilerService } from './reconciler.service.js';

const INTERVAL_NAME = 'alerting-reconciler';

/**
 * Runs {@link ReconcilerService.tick} every `RECONCILE_INTERVAL`. Registered by hand because
 * `@Interval` takes its period at decoration time, before config exists.
 */
@Injectable()
export class ReconcilerScheduler
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(ReconcilerScheduler.name);
  private running: Promise<void> | null = null;

  constructor(
    private readonly reconciler: ReconcilerService,
    private readonly scheduler: SchedulerRegistry,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(ALERTING_OPTIONS) private readonly options: AlertingModuleOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.schedule === false) return;
    this.scheduler.addInterval(
      INTERVAL_NAME,
      setInterval(() => this.run(), this.config.reconcileIntervalMs),
    );
  }

  /** Before the data source closes, so a tick in progress finishes instead of failing half-way. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.scheduler.doesExist('interval', INTERVAL_NAME))
      this.scheduler.deleteInterval(INTERVAL_NAME);
    await this.running;
  }

  /** A slow tick (thousands of stale incidents) must not overlap the next one in this process. */
  private run(): void {
    if (this.running) return;
    this.running = this.reconciler
      .tick()
      .then(() => undefined)
      .catch((error: Error) =>
        this.logger.error(`reconcile failed: ${error.message}`, error.stack),
      )
      .finally(() => {
        this.running = null;
      });
  }
}
