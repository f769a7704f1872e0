// A real HostWorker in this process on the in-process VMM stand-in: real queues, records,
// ledger, file-CoW disks on loop devices and network slots, only the VMs stand in. Its
// teardown leaves nothing: VMs shut down, disks and loop devices swept, slots and the
// host's nftables table removed, the state dir deleted.
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseWorkerConfig } from '../../src/config/worker-config.ts';
import {
  type NetworkConfig,
  parseNetworkConfig,
  removeHostNetwork,
  sweepNetwork,
} from '../../src/network/index.ts';
import { TemplateCatalog } from '../../src/templates/template-catalog.ts';
import { HostWorker } from '../../src/workers/host-worker.ts';

/** The template only real workers have. */
export const REAL_TEMPLATE = 'base';

/** How a bench worker is set up. */
export interface RealHostOptions {
  redisUrl: string;
  keyPrefix: string;
  hostId: string;
  /** A directory of its own: state dir and template files go here. */
  dir: string;
  network: { prefix: string; vethRange: string; hostRange: string };
  poolSize: number;
  concurrency?: number;
  /** The stand-in's latencies, in HANGAR_SIM_LATENCY's format (`snapshot=20`). */
  latency?: string;
}

/** A started worker and the teardown that undoes everything it made. */
export interface RealHost {
  worker: HostWorker;
  network: NetworkConfig;
  teardown(): Promise<void>;
}

/** Starts a worker on the in-process stand-in; on failure nothing it made is left. */
export async function startRealHost(options: RealHostOptions): Promise<RealHost> {
  const network = parseNetworkConfig(options.network);
  // A run killed before its cleanup may have left this prefix's objects behind.
  await removeNetwork(network);
  const kernelPath = join(options.dir, 'vmlinux');
  const imagePath = join(options.dir, 'base.img');
  await mkdir(options.dir, { recursive: true });
  await writeFile(kernelPath, 'placeholder: the in-process stand-in boots nothing');
  await writeFile(imagePath, '');
  await truncate(imagePath, 16 * 1024 * 1024);
  const config = parseWorkerConfig({
    hostId: options.hostId,
    redisUrl: options.redisUrl,
    keyPrefix: options.keyPrefix,
    stateDir: join(options.dir, 'state'),
    vmm: 'in-process-stand-in',
    disk: 'file',
    poolSize: options.poolSize,
    concurrency: options.concurrency ?? 8,
    capacity: { vcpus: 100_000, memoryMib: 100_000_000 },
    diskReserveMib: 0,
    // The slow pass (republish, abandoned-job scan; 30 s by default) is kept out of the
    // measured windows: it is neither an operation nor the heartbeat or lost-host loop.
    maintenanceMs: 600_000,
    network: options.network,
    vmmEnv: options.latency === undefined ? {} : { HANGAR_SIM_LATENCY: options.latency },
  });
  const worker = await HostWorker.create(
    config,
    new TemplateCatalog([{ templateId: REAL_TEMPLATE, kernelPath, imagePath }]),
  );
  let started = false;
  const teardown = async () => {
    if (started) await worker.stop().catch(() => undefined);
    started = false;
    await teardownHost(worker);
    await rm(options.dir, { recursive: true, force: true });
  };
  try {
    await worker.start();
    started = true;
  } catch (error) {
    await teardown();
    throw error;
  }
  return { worker, network, teardown };
}

// After stop(): every VM shut down (in-process: forgotten), every CoW disk and its loop
// device, every slot and the host's nftables table removed.
async function teardownHost(worker: HostWorker): Promise<void> {
  const { ctx } = worker;
  for (const entry of ctx.ledger.entries()) {
    await ctx.vms
      .get(entry.sandboxId)
      .shutdown()
      .catch(() => undefined);
  }
  await ctx.disks.sweep(new Set()).catch((error: unknown) => console.error('disk sweep failed:', error));
  await ctx.slots.drain().catch(() => undefined);
  await removeNetwork(ctx.network);
}

async function removeNetwork(network: NetworkConfig): Promise<void> {
  await sweepNetwork(network, new Set()).catch((error: unknown) =>
    console.error('network sweep failed:', error),
  );
  await removeHostNetwork(network).catch((error: unknown) =>
    console.error('host network removal failed:', error),
  );
}
