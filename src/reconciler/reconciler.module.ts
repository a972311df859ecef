import { Module, type DynamicModule, type Type } from '@nestjs/common';
import {
  RECONCILER_SOURCES,
  type ReconcilerSource,
} from './reconciler-source.port.js';
import { ReconcilerScheduler } from './reconciler.scheduler.js';
import { ReconcilerService } from './reconciler.service.js';

/** Options of {@link ReconcilerModule.forRoot}. */
export interface ReconcilerModuleOptions {
  /**
   * Sources of truth asked every tick besides the stale rule, e.g. `CloudWatchAlarmSource`;
   * provided inside this module, so they may inject the core's services.
   */
  sources?: Type<ReconcilerSource>[];
}

/**
 * Closes incidents nobody will close otherwise: not seen for their resolve timeout
 * (`config.resolveTimeout`), or over according to a source of truth. Ticks every
 * `config.reconcileInterval` unless the core's `schedule` is false; one tick at a time
 * across instances.
 */
@Module({})
export class ReconcilerModule {
  static forRoot(options: ReconcilerModuleOptions = {}): DynamicModule {
    const sources = options.sources ?? [];
    return {
      module: ReconcilerModule,
      providers: [
        ...sources,
        {
          provide: RECONCILER_SOURCES,
          inject: sources,
          useFactory: (...found: ReconcilerSource[]) => found,
        },
        ReconcilerService,
        ReconcilerScheduler,
      ],
      exports: [ReconcilerService],
    };
  }
}
