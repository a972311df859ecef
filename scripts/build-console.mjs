#!/usr/bin/env node
// The operator console's browser files: src/console/web/app.ts and its imports bundled by
// esbuild into dist/console/app.js, beside the page and the style sheet. Run after
// `nest build` (which empties dist/); part of `npm run build`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEB = join(ROOT, 'src', 'console', 'web');
const OUT = join(ROOT, 'dist', 'console');

// esbuild strips types without checking them; the browser code has its own DOM config.
execFileSync(
  process.execPath,
  [
    join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(WEB, 'tsconfig.json'),
  ],
  { stdio: 'inherit' },
);

mkdirSync(OUT, { recursive: true });
await build({
  entryPoints: [join(WEB, 'app.ts')],
  outfile: join(OUT, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(WEB, 'index.html'), join(OUT, 'index.html'));
copyFileSync(join(WEB, 'app.css'), join(OUT, 'app.css'));
