#!/usr/bin/env node
// The project's one test command: unit tests, the e2e suites on SQLite, and the same e2e
// suites again on PostgreSQL. Ends with one line: "N passed, M failed".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ci = process.env.CI === 'true' || process.env.CI === '1';
const out = mkdtempSync(join(tmpdir(), 'alerting-tests-'));
const totals = { passed: 0, failed: 0 };

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function lane(name, config, env = {}) {
  console.log(`\n=== ${name} ===`);
  const report = join(out, `${name}.json`);
  const status = run('npx', ['vitest', 'run', '--config', config, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], env);
  let passed = 0;
  let failed = 0;
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed = r.numPassedTests;
    failed = r.numFailedTests + (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    // a suite that failed to load counts as a failure even with no test inside it
    failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  } catch {
    failed += 1;
  }
  if (status !== 0 && failed === 0) failed = 1;
  console.log(`${name}: ${passed} passed, ${failed} failed`);
  totals.passed += passed;
  totals.failed += failed;
}

async function postgresReachable() {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    console.error(`PostgreSQL at ${POSTGRES_URL} is not reachable: ${error.message}`);
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

if (run('npm', ['run', 'build']) !== 0) {
  console.log('build failed');
  totals.failed += 1;
} else {
  // vitest strips types without checking them and the build leaves the specs out: a type
  // error in a test would otherwise go unseen
  console.log('\n=== type check (src, test, bench) ===');
  if (run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']) !== 0) {
    console.log('type check failed');
    totals.failed += 1;
  }
  lane('unit', 'vitest.config.ts');
  lane('e2e-sqlite', 'vitest.config.e2e.ts');
  if (await postgresReachable()) {
    lane('e2e-postgres', 'vitest.config.e2e.ts', { TEST_POSTGRES_URL: POSTGRES_URL });
  } else if (ci) {
    console.error('!!! CI=true: the PostgreSQL lane is mandatory and PostgreSQL is unreachable');
    totals.failed += 1;
  } else {
    console.error('\n!!! PostgreSQL lane SKIPPED: no PostgreSQL reachable (set TEST_POSTGRES_URL). CI will not skip it.\n');
  }
}
rmSync(out, { recursive: true, force: true });
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed > 0 ? 1 : 0);
