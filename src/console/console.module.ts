import { Module, type DynamicModule } from '@nestjs/common';
import { ConsoleAssets } from './console.assets.js';
import { ConsoleController } from './console.controller.js';
import {
  CONSOLE_OPTIONS,
  type ConsoleModuleOptions,
} from './console.options.js';

/**
 * The operator console, `GET /console`: a page on top of the module's `/v1` API, served
 * from the app itself. Import it beside {@link AlertingModule}; under a host's
 * `RouterModule` prefix, give it the same prefix as the API (the page finds the API
 * relative to its own address).
 */
@Module({
  controllers: [ConsoleController],
  providers: [{ provide: CONSOLE_OPTIONS, useValue: {} }, ConsoleAssets],
})
export class ConsoleModule {
  /** `keyHeader`: see {@link ConsoleModuleOptions} */
  static forRoot(options: ConsoleModuleOptions = {}): DynamicModule {
    return {
      module: ConsoleModule,
      providers: [{ provide: CONSOLE_OPTIONS, useValue: options }],
    };
  }
}
