import { defineConfig } from 'vitest/config';

// Tests touch real kernel objects, real Redis and child processes: give them room,
// and run files in forks so a crashing child never takes the runner with it.
// The CH spec conformance check runs after this suite, on its own config
// (test/conformance/vitest.config.ts), over the requests this run records.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/conformance/**', 'test/cluster/**'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
