import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll } from 'vitest';
import type { WorkerConfigInput } from '../../src/config/worker-config.ts';
import { parseNetworkConfig, removeHostNetwork, sweepNetwork } from '../../src/network/index.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { hostNetwork, type NetworkIdentity } from './fleet.ts';
import { detachLoopsUnder } from './loops.ts';
import { deleteKeys, TEST_REDIS_URL } from './redis.ts';
import { spawnWorker } from './spawn-worker.ts';
import { makeTempDir, type TempDir } from './temp-dir.ts';

/** A host (`hk` unless told) whose worker runs in its own process, so a test can SIGKILL and restart it. */
export interface KillableWorkerHost {
  readonly client: HangarClient;
  /** The test's temp directory (state dir and templates live under it). */
  readonly dir: string;
  /** The private key prefix of the client and every worker. */
  readonly keyPrefix: string;
  /** The config a worker started now would get (before `extra`). */
  config(extra?: Partial<WorkerConfigInput>): WorkerConfigInput;
  /** Starts a worker; `extra` overrides fields of its config (another state dir, say). */
  startWorker(extra?: Partial<WorkerConfigInput>): Promise<{ child: ResultPromise }>;
}

/**
 * Registers the hooks of a worker-restart test: a client on a private key prefix, a worker
 * config with short locks (a dead worker's job is retried within seconds) unless `worker`
 * says otherwise (a field set to undefined there is left to the worker's own default), and
 * a cleanup that removes processes, namespaces, loop devices, keys and files even when the
 * test failed.
 */
export function useKillableWorker(options: {
  identity: NetworkIdentity;
  vmm: 'simulator' | 'qemu';
  vmmEnv?: Record<string, string>;
  guest?: boolean;
  worker?: Partial<WorkerConfigInput>;
}): KillableWorkerHost {
  let dir: TempDir | undefined;
  let client: HangarClient | undefined;
  const keyPrefix = `hangar-test-${options.identity.prefix}-${process.pid}`;
  const children: ResultPromise[] = [];
  const networks = new Map<string, ReturnType<typeof parseNetworkConfig>>();
  const config = (extra: Partial<WorkerConfigInput> = {}): WorkerConfigInput => ({
    hostId: 'hk',
    redisUrl: TEST_REDIS_URL,
    keyPrefix,
    stateDir: join(dir!.path, 'state'),
    vmm: options.vmm,
    disk: 'file',
    poolSize: 0,
    heartbeatMs: 300,
    lockDurationMs: 1_500,
    stalledIntervalMs: 700,
    network: hostNetwork(options.identity, 0),
    vmmEnv: options.vmmEnv ?? {},
    ...options.worker,
    ...extra,
  });

  beforeAll(async () => {
    dir = await makeTempDir('hangar-restart-');
    client = await HangarClient.connect({ redisUrl: TEST_REDIS_URL, keyPrefix });
  });

  afterAll(async () => {
    await client?.close();
    for (const child of children) child.kill('SIGKILL');
    await Promise.allSettled(children);
    // Only the networks workers used: a sweep removes every route inside a host range.
    for (const used of networks.values()) {
      await sweepNetwork(used, new Set());
      await removeHostNetwork(used);
    }
    if (dir !== undefined) {
      await execa('pkill', ['-9', '-f', dir.path], { reject: false });
      await detachLoopsUnder(dir.path);
      await dir.remove();
    }
    await deleteKeys(keyPrefix);
  }, 60_000);

  return {
    get client() {
      return client!;
    },
    get dir() {
      return dir!.path;
    },
    keyPrefix,
    config,
    startWorker(extra: Partial<WorkerConfigInput> = {}) {
      const workerConfig = config(extra);
      const network = parseNetworkConfig(workerConfig.network ?? {});
      networks.set(network.prefix, network);
      const started = spawnWorker(workerConfig, join(dir!.path, 'templates'), {
        guest: options.guest === true,
      });
      started.then(
        ({ child }) => children.push(child),
        () => undefined,
      );
      return started;
    },
  };
}
