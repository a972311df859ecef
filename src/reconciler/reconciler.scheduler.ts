import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { ReconcilerService } from './reconciler.service.js';

/**
 * Runs {@link ReconcilerService.tick} every `RECONCILE_INTERVAL`. A plain timer: `@Interval`
 * takes its period at decoration time, before config exists, and would need the host's
 * ScheduleModule.
 */
@Injectable()
export class ReconcilerScheduler
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(ReconcilerScheduler.name);
  private running: Promise<void> | null = null;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly reconciler: ReconcilerService,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.schedule) return;
    this.timer = setInterval(() => this.run(), this.config.reconcileIntervalMs);
  }

  /** Before the data source closes, so a tick in progress finishes instead of failing half-way. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
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
