import { randomBytes } from 'node:crypto';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseWorkerConfig, type WorkerConfigInput } from '../../src/config/worker-config.ts';
import { createLogger, type Logger } from '../../src/logging/logger.ts';
import { removeHostNetwork, sweepNetwork } from '../../src/network/index.ts';
import { HangarClient, type HangarClientOptions } from '../../src/producer/hangar-client.ts';
import type { JobKeyInput } from '../../src/signing/job-key.ts';
import { TemplateCatalog } from '../../src/templates/template-catalog.ts';
import { HostWorker } from '../../src/workers/host-worker.ts';
import type { JobInstrument } from '../../src/workers/job-instruments.ts';
import { deleteKeys, TEST_REDIS_URL } from './redis.ts';
import { makeTempDir, type TempDir } from './temp-dir.ts';

export { deleteKeys, TEST_REDIS_URL } from './redis.ts';

/**
 * One test file's network identity: a prefix (at most 4 chars) and a second octet no other
 * test file uses. Host i of the fleet gets prefix `<prefix><i>` and the /16s 10.<octet+2i>
 * and 10.<octet+2i+1>, so hosts sharing this machine never touch each other's objects.
 */
export interface NetworkIdentity {
  prefix: string;
  octet: number;
  /**
   * One /16 per host instead of two (veths in its lower half, host addresses in its upper
   * half): host i takes 10.<octet+i> only, for files that find no two free octets in a row.
   */
  halves?: boolean;
}

/** The network config of host number `index` of a test fleet. */
export function hostNetwork(identity: NetworkIdentity, index: number) {
  if (identity.halves === true) {
    const octet = identity.octet + index;
    return {
      prefix: `${identity.prefix}${index}`,
      vethRange: `10.${octet}.0.0/17`,
      hostRange: `10.${octet}.128.0/17`,
      maxSlots: 200,
    };
  }
  return {
    prefix: `${identity.prefix}${index}`,
    vethRange: `10.${identity.octet + 2 * index}.0.0/16`,
    hostRange: `10.${identity.octet + 2 * index + 1}.0.0/16`,
    maxSlots: 200,
  };
}

/** A fleet of host workers (CH simulator, file CoW, real netns) and a client, on a private key prefix. */
export interface TestFleet {
  client: HangarClient;
  workers: HostWorker[];
  keyPrefix: string;
  dir: TempDir;
  /** Starts another worker for `hostId` (a restart after a kill, say); `jobKey` overrides the fleet's. */
  startWorker(
    hostId: string,
    extra?: Partial<WorkerConfigInput>,
    options?: { jobKey?: JobKeyInput },
  ): Promise<HostWorker>;
  stop(): Promise<void>;
}

/** Makes the demo template: a placeholder kernel (the simulator never boots it) and a small base image. */
export async function writeTestTemplate(dir: string): Promise<TemplateCatalog> {
  await mkdir(dir, { recursive: true });
  const kernelPath = join(dir, 'vmlinux');
  const imagePath = join(dir, 'base.img');
  await writeFile(kernelPath, 'placeholder kernel: the CH simulator does not boot guests\n');
  await writeFile(imagePath, 'hangar base image\n');
  await truncate(imagePath, 16 * 1024 * 1024);
  return new TemplateCatalog([{ templateId: 'base', kernelPath, imagePath }]);
}

/**
 * Starts `hosts` workers on one machine, each with its own state dir and slot range, all
 * sharing one network prefix; `stop()` stops them, destroys nothing by itself, and removes
 * every key, namespace and file the fleet made.
 */
export async function startTestFleet(options: {
  hosts: string[];
  network: NetworkIdentity;
  worker?: Partial<WorkerConfigInput>;
  /** Templates to serve instead of the placeholder one (the real test guest, say). */
  templates?: TemplateCatalog;
  /** The Redis of workers and client (a private redis-server, say); default the test Redis. */
  redisUrl?: string;
  /** What observes every worker's jobs (metrics, say). */
  instruments?: JobInstrument[];
  /** The client's further options (its job key, say). */
  client?: Omit<HangarClientOptions, 'redisUrl' | 'keyPrefix'>;
  /** The workers' job key (default none: they run unsigned jobs). */
  jobKey?: JobKeyInput;
  /** The workers' logger (default: HANGAR_TEST_LOG's level, else silent). */
  logger?: Logger;
}): Promise<TestFleet> {
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const dir = await makeTempDir('hangar-fleet-');
  const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;
  const templates = options.templates ?? (await writeTestTemplate(join(dir.path, 'templates')));
  const logger = options.logger ?? createLogger({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });
  const workers: HostWorker[] = [];
  const hostIndex = new Map(options.hosts.map((host, index) => [host, index]));
  const networkFor = (hostId: string) => hostNetwork(options.network, hostIndex.get(hostId) ?? 0);
  const startWorker = async (
    hostId: string,
    extra: Partial<WorkerConfigInput> = {},
    started: { jobKey?: JobKeyInput } = {},
  ) => {
    const config = parseWorkerConfig({
      hostId,
      redisUrl,
      keyPrefix,
      stateDir: join(dir.path, 'hosts', hostId),
      vmm: 'simulator',
      disk: 'file',
      poolSize: 1,
      heartbeatMs: 500,
      network: networkFor(hostId),
      ...options.worker,
      ...extra,
    });
    const jobKey = started.jobKey ?? options.jobKey;
    const worker = await HostWorker.create(config, templates, {
      logger,
      ...(options.instruments === undefined ? {} : { instruments: options.instruments }),
      ...(jobKey === undefined ? {} : { jobKey }),
    });
    await worker.start();
    workers.push(worker);
    return worker;
  };
  for (const hostId of options.hosts) await startWorker(hostId);
  const client = await HangarClient.connect({ ...options.client, redisUrl, keyPrefix });
  return {
    client,
    workers,
    keyPrefix,
    dir,
    startWorker,
    async stop() {
      await client.close();
      await Promise.allSettled(workers.map((worker) => worker.stop()));
      await cleanupFleet(workers, keyPrefix);
      await dir.remove();
    },
  };
}

/** Shuts down every VM the workers know, removes the network objects and the Redis keys. */
export async function cleanupFleet(workers: HostWorker[], keyPrefix: string): Promise<void> {
  for (const worker of workers) {
    for (const entry of worker.ctx.ledger.entries()) {
      await worker.ctx.vms
        .get(entry.sandboxId)
        .shutdown()
        .catch(() => undefined);
      await worker.ctx.disks
        .remove(entry.sandboxId, {
          templateId: entry.template,
          imagePath: worker.ctx.templates.get(entry.template).imagePath,
        })
        .catch(() => undefined);
    }
    await worker.ctx.slots.drain().catch(() => undefined);
    await worker.ctx.disks.sweep(new Set()).catch(() => undefined);
    await sweepNetwork(worker.ctx.network, new Set());
    await removeHostNetwork(worker.ctx.network);
  }
  await deleteKeys(keyPrefix);
}
