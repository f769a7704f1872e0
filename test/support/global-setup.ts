import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CH_REQUEST_LOG } from '../../src/vmm/cloud-hypervisor/request-log.ts';

/** Where the test run records every CH API request, for the spec conformance check. */
export const CH_REQUEST_LOG_PATH = join(
  resolve(fileURLToPath(new URL('../..', import.meta.url))),
  '.cache',
  'ch-requests.jsonl',
);

/**
 * vitest globalSetup: starts a fresh CH request log for this run and points the client at it.
 * Forked test workers inherit the variable (checked with vitest 5 pool: forks).
 */
export default async function setup(): Promise<void> {
  await mkdir(join(CH_REQUEST_LOG_PATH, '..'), { recursive: true });
  await rm(CH_REQUEST_LOG_PATH, { force: true });
  process.env[CH_REQUEST_LOG] = CH_REQUEST_LOG_PATH;
}
