import { access, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { type NetworkConfig, removeHostNetwork, sweepNetwork } from '../../src/network/index.ts';
import { censusHost, countHostLeaks, type HostLeaks, processesUnder } from './census-host.ts';
import { scan } from './census-redis.ts';
import type { PrivateRedis } from './private-redis.ts';

/** What a phase made that the teardown removes. */
export interface PhaseResources {
  network: NetworkConfig;
  /** The phase's temp dir (state dir, templates, Redis AOF all under it). */
  runDir: string;
  stateDir: string;
  redisUrl: string;
  keyPrefix: string;
  privateRedis?: PrivateRedis | undefined;
}

/** What was still there after the teardown: nothing, unless the campaign itself leaks. */
export interface AfterTeardown {
  host: HostLeaks;
  runDirLeft: boolean;
  redisKeys: string[];
  redisServerLeft: boolean;
  /** Teardown steps that failed, with why. */
  errors: string[];
  total: number;
}

/**
 * Removes everything a phase made once its worker is stopped: processes still naming the state
 * dir (by pid), the prefix's namespaces, links, routes and host table, loop devices over its
 * files, its Redis keys, its private redis-server and its temp dir. Then checks nothing is left.
 */
export async function teardownPhase(resources: PhaseResources): Promise<AfterTeardown> {
  const errors: string[] = [];
  const step = async (name: string, run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  await step('processes', async () => {
    for (const pid of (await processesUnder(resources.runDir, new Set())).keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  await step('network', async () => {
    await sweepNetwork(resources.network, new Set());
    await removeHostNetwork(resources.network);
  });
  await step('loops', async () => {
    const { stdout } = await execa('losetup', ['-J', '-l']);
    const loops = (JSON.parse(stdout || '{}') as { loopdevices?: { name: string; 'back-file'?: string }[] })
      .loopdevices;
    for (const loop of loops ?? []) {
      if (loop['back-file']?.startsWith(`${resources.runDir}/`)) await execa('losetup', ['-d', loop.name]);
    }
  });
  let redisKeys: string[] = [];
  await step('redis keys', async () => {
    const redis = new Redis(resources.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const pattern = `${resources.keyPrefix}:*`;
      for (const key of await scan(redis, pattern)) await redis.unlink(key);
      redisKeys = await scan(redis, pattern);
    } finally {
      redis.disconnect();
    }
  });
  await step('redis-server', async () => resources.privateRedis?.stop());
  await step('run dir', () => rm(resources.runDir, { recursive: true, force: true }));

  const host = await censusHost(resources.network, resources.runDir, {
    slots: new Set(),
    hostTable: false,
    pids: new Set(),
  });
  const runDirLeft = await access(resources.runDir).then(
    () => true,
    () => false,
  );
  const redisServerLeft = resources.privateRedis?.pid !== undefined;
  const total = countHostLeaks(host) + (runDirLeft ? 1 : 0) + redisKeys.length + (redisServerLeft ? 1 : 0);
  return { host, runDirLeft, redisKeys, redisServerLeft, errors, total };
}
