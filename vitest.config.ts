import { defineConfig } from 'vitest/config';

// Tests touch real kernel objects, real Redis and child processes: give them room,
// and run files in forks so a crashing child never takes the runner with it.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
