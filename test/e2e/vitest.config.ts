import { defineConfig } from 'vitest/config';

// The end-to-end suite on a real VMM (QEMU): one file at a time, generous timeouts (TCG is slow).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 180_000,
  },
});
