import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globals: true,
    root: './',
    include: ['test/**/*.e2e-spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // two cores: suites that start server processes or time deliveries stay honest with fewer workers
    maxWorkers: 2,
  },
});
