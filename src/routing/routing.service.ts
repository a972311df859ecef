import { readFileSync } from 'node:fs';
import {
  BadRequestException,
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { NotifierRegistry } from '../notifier/notifier.registry.js';
import { AlertingMetrics } from '../ops/alerting.metrics.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { RoutingFileError, RoutingTable } from './routing-table.js';
import {
  ROUTING_OPTIONS,
  type RoutingModuleOptions,
} from './routing.options.js';

/** Reads and validates a routing file; throws {@link RoutingFileError}. */
export function loadRoutingFile(
  file: string,
  env: Record<string, string | undefined>,
  notifiers?: readonly string[],
): RoutingTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RoutingFileError(
      [`(file): cannot be read: ${(error as Error).message}`],
      file,
    );
  }
  return RoutingTable.parse(text, { env, notifiers, file });
}

/**
 * The routing table in force. Loaded at start (a bad file stops the boot), again on SIGHUP
 * and `POST /v1/routing/reload`; a bad reload keeps the old table. Only incidents opening
 * after a reload use the new one: the others keep the route stored with them.
 */
@Injectable()
export class RoutingService
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('Routing');
  private current = RoutingTable.empty();
  private loadedAt: string | null = null;
  private readonly onHup = () => {
    try {
      this.reload();
    } catch {
      // reload() logged it and counted it; the old rules stay
    }
  };

  constructor(
    @Inject(ROUTING_OPTIONS) private readonly options: RoutingModuleOptions,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    private readonly registry: NotifierRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() private readonly metrics?: AlertingMetrics,
  ) {}

  get table(): RoutingTable {
    return this.current;
  }

  get file(): string | null {
    return this.options.file ?? null;
  }

  /** After every module's init, so the enabled notifiers are known. */
  onApplicationBootstrap(): void {
    if (!this.options.file) return;
    this.current = this.load();
    this.loadedAt = this.clock.now().toISOString();
    this.logger.log(
      `routing file ${this.options.file}: ${this.current.ruleCount} route(s)`,
    );
    if (this.options.reloadOnSighup !== false) process.on('SIGHUP', this.onHup);
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.onHup);
  }

  /** The routing file again; refused (400, old rules kept) when it is bad. */
  reload(): RoutingTable {
    if (!this.options.file)
      throw new BadRequestException([
        'no routing file is configured (ROUTING_FILE)',
      ]);
    try {
      this.current = this.load();
    } catch (error) {
      if (!(error instanceof RoutingFileError)) throw error;
      this.metrics?.routingReload('failed');
      this.logger.error(
        `routing reload refused, the previous rules stay in force. ${error.message}`,
      );
      throw new BadRequestException(error.problems);
    }
    this.loadedAt = this.clock.now().toISOString();
    this.metrics?.routingReload('ok');
    this.logger.log(
      `routing file ${this.options.file} reloaded: ${this.current.ruleCount} route(s)`,
    );
    return this.current;
  }

  view() {
    return {
      source: this.options.file
        ? { file: this.options.file, loadedAt: this.loadedAt }
        : {
            file: null,
            loadedAt: null,
            note: 'no routing file: every incident goes to every enabled notifier',
          },
      ...this.current.view(),
    };
  }

  private load(): RoutingTable {
    return loadRoutingFile(
      this.options.file!,
      this.options.env ?? {},
      this.config.notifiers ?? this.registry.names,
    );
  }
}
