import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CONSOLE_OPTIONS,
  type ConsoleModuleOptions,
} from './console.options.js';

export interface ConsoleFiles {
  html: string;
  js: string;
  css: string;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
/**
 * The bundle sits beside this file in dist/console (`npm run build`); run from the
 * TypeScript sources (tests), the last build in dist/ serves.
 */
const CANDIDATES = [HERE, join(HERE, '..', '..', 'dist', 'console')];

/** The page, script and style sheet, read once at boot: serving them is a memory copy. */
@Injectable()
export class ConsoleAssets {
  readonly files: ConsoleFiles | null;

  constructor(@Inject(CONSOLE_OPTIONS) options: ConsoleModuleOptions) {
    const dir = CANDIDATES.find((d) => existsSync(join(d, 'app.js')));
    if (!dir) {
      new Logger('Console').warn(
        'the console is not built (no dist/console/app.js): GET /console answers 503; run `npm run build`',
      );
      this.files = null;
      return;
    }
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    this.files = {
      // a fixed word from a closed set, never request data
      html: read('index.html').replace(
        '__KEY_HEADER__',
        options.keyHeader ?? 'x-api-key',
      ),
      js: read('app.js'),
      css: read('app.css'),
    };
  }
}
