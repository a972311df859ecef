import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// What `npm pack` ships, read from the built tree (run `npm run build` first).
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface PackEntry {
  path: string;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

const DOUBLES =
  /\bclass (FakePagerDuty|SnsTestSigner|FakeSnsEndpoint|CloudWatchFake)\b|\bfunction createSelfSignedCertificate\b/;

describe('The package tarball (e2e)', () => {
  let files: string[];
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

  beforeAll(() => {
    // --ignore-scripts: prepack would rebuild; the suite runs on the build already made.
    const out = execFileSync(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    files = (JSON.parse(out) as { files: PackEntry[] }[])[0].files.map(
      (f) => f.path,
    );
  });

  it('holds dist, the README and package.json, nothing else (no src, test, bench, .ci, tarballs, specs)', () => {
    const outside = files.filter(
      (f) =>
        !f.startsWith('dist/') && f !== 'README.md' && f !== 'package.json',
    );
    expect(outside).toEqual([]);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/testing/index.js');
    expect(files).toContain('dist/cli/main.js');
    expect(files.filter((f) => /\.spec\.|tsbuildinfo|\.tgz$/.test(f))).toEqual(
      [],
    );
  });

  it('has no test double outside dist/testing, and the doubles never shell out', () => {
    const shipped = files.filter((f) => f.endsWith('.js'));
    const withDoubles = shipped.filter((f) =>
      DOUBLES.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(withDoubles.length).toBeGreaterThan(0);
    expect(withDoubles.filter((f) => !f.startsWith('dist/testing/'))).toEqual(
      [],
    );
    for (const f of shipped.filter((f) => f.startsWith('dist/testing/')))
      expect(readFileSync(join(ROOT, f), 'utf8'), f).not.toMatch(
        /child_process|openssl/,
      );
    // The production entry's module graph never reaches the doubles.
    const reached = new Set<string>();
    const visit = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      const source = readFileSync(join(ROOT, file), 'utf8');
      for (const [, spec] of source.matchAll(
        /(?:import|export)[^'"]*?from\s*'(\.[^']+)'/g,
      ))
        visit(relative(ROOT, join(ROOT, file, '..', spec)));
    };
    visit('dist/index.js');
    expect([...reached].filter((f) => f.startsWith('dist/testing/'))).toEqual(
      [],
    );
    expect(reached.size).toBeGreaterThan(10);
  });

  it('declares exports (., ./testing, ./package.json), engines, bin, and peers for the host-shared frameworks', () => {
    expect(Object.keys(pkg.exports)).toEqual([
      '.',
      './testing',
      './package.json',
    ]);
    for (const entry of ['.', './testing']) {
      for (const target of Object.values(
        pkg.exports[entry] as Record<string, string>,
      ))
        expect(files, `${entry} → ${target}`).toContain(
          target.replace(/^\.\//, ''),
        );
    }
    expect(pkg.engines.node).toBe('>=20.18.1');
    expect(files).toContain(pkg.bin.alerting);
    expect(
      readFileSync(join(ROOT, pkg.bin.alerting), 'utf8').startsWith(
        '#!/usr/bin/env node',
      ),
    ).toBe(true);
    // One copy of each, the host's: as a dependency npm may nest a second one.
    for (const name of [
      'typeorm',
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/typeorm',
      '@nestjs/schedule',
      '@nestjs/axios',
      '@nestjs/terminus',
      '@nestjs/swagger',
      '@nestjs/platform-fastify',
      '@nestjs/platform-express',
      'reflect-metadata',
      'rxjs',
    ]) {
      expect(pkg.peerDependencies[name], name).toBeDefined();
      expect(pkg.dependencies[name], name).toBeUndefined();
      // still installed for the repository's own build, tests and `npm start`
      expect(pkg.devDependencies[name], name).toBe(pkg.peerDependencies[name]);
    }
  });

  it('no spec under src imports from test/', () => {
    const offenders = walk(join(ROOT, 'src'))
      .filter((f) => f.endsWith('.spec.ts'))
      .filter((f) => /from\s+'(\.\.\/)+test\//.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(offenders).toEqual([]);
  });
});
