import { defineConfig } from 'vitest/config';

// *.pg-e2e-spec.ts need several instances on one database: only the PostgreSQL lane
// (TEST_POSTGRES_URL set, see scripts/run-tests.mjs) collects them.
const postgresLane = !!process.env.TEST_POSTGRES_URL;

export default defineConfig({
  test: {
    globals: true,
    root: './',
    include: postgresLane ? ['test/**/*.e2e-spec.ts', 'test/**/*.pg-e2e-spec.ts'] : ['test/**/*.e2e-spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // two cores: suites that start server processes or time deliveries stay honest with fewer workers
    maxWorkers: 2,
  },
});
