import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The CH spec conformance check: runs after the main suite (npm test) and validates every
// CH API request that suite recorded in .cache/ch-requests.jsonl against the official spec.
// No globalSetup here: the main suite's would delete the log this check reads.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/conformance/**/*.conformance.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
