import ordinarySetup from '../support/global-setup.ts';
import { startPrivateCluster } from '../support/redis-cluster.ts';

/**
 * vitest globalSetup of the Redis Cluster run: a private 3-master cluster on loopback for
 * the whole run, its seed URL in REDIS_URL (every test's TEST_REDIS_URL; forked test
 * workers inherit it), torn down at the end.
 */
export default async function setup(): Promise<() => Promise<void>> {
  await ordinarySetup();
  const cluster = await startPrivateCluster();
  process.env.REDIS_URL = cluster.url;
  return () => cluster.stop();
}
