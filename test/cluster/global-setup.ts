import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CH_REQUEST_LOG } from '../../src/vmm/cloud-hypervisor/request-log.ts';
import { CH_REQUEST_LOG_PATH } from '../support/global-setup.ts';
import { startPrivateCluster } from '../support/redis-cluster.ts';

/**
 * vitest globalSetup of the Redis Cluster run: a private 3-master cluster on loopback for
 * the whole run, its seed URL in REDIS_URL (every test's TEST_REDIS_URL; forked test
 * workers inherit it), torn down at the end. CH requests are added to the main run's log
 * (not started afresh), so the conformance run after it still sees the main run's.
 */
export default async function setup(): Promise<() => Promise<void>> {
  await mkdir(dirname(CH_REQUEST_LOG_PATH), { recursive: true });
  process.env[CH_REQUEST_LOG] = CH_REQUEST_LOG_PATH;
  const cluster = await startPrivateCluster();
  process.env.REDIS_URL = cluster.url;
  return () => cluster.stop();
}
