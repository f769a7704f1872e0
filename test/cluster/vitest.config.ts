import { defineConfig } from 'vitest/config';

// The lifecycle, idempotency, batch and restart tests again, on a real 3-master Redis
// Cluster started for the run (test/cluster/global-setup.ts), plus the cluster's own tests.
export default defineConfig({
  test: {
    include: [
      'test/cluster/**/*.test.ts',
      'test/workers/lifecycle.sim.test.ts',
      'test/workers/job-order.sim.test.ts',
      'test/workers/batch-snapshot.sim.test.ts',
      'test/workers/worker-restart.sim.test.ts',
    ],
    globalSetup: ['test/cluster/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
