#!/usr/bin/env node
// Builds an example host app against the package as a host gets it: packs this repository
// (`npm pack`, from the build in dist/), copies the shared app of examples/host with the
// platform's own package.json and main.ts (examples/host/<platform>) on top to a temporary
// directory, installs the tarball there with the example's own dependencies (the npm
// registry, or npm's cache: --prefer-offline), and compiles the example.
// Prints {"dir", "tarball"} as the last line of stdout; the caller removes the directory.
//
//   npm run build && node scripts/host-example.mjs express
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const platform = process.argv[2];
if (platform !== 'express' && platform !== 'fastify') {
  console.error('usage: node scripts/host-example.mjs <express|fastify>');
  process.exit(2);
}
if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), `alerting-host-${platform}-`));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });

// --ignore-scripts: prepack would build again; dist/ is what gets packed.
const packed = JSON.parse(
  run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
    ROOT,
  ),
);
const tarball = join(work, packed[0].filename);

const dir = join(work, `host-${platform}`);
const example = join(ROOT, 'examples', 'host');
const skip = ['node_modules', 'dist', 'express', 'fastify'];
cpSync(example, dir, {
  recursive: true,
  filter: (src) => src === example || !skip.includes(basename(src)),
});
cpSync(join(example, platform), dir, { recursive: true });
run(
  'npm',
  [
    'install',
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
    tarball,
  ],
  dir,
);
run('npm', ['run', 'build', '--silent'], dir);
console.log(JSON.stringify({ dir, tarball }));
