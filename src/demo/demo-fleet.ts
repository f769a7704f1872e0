import { randomBytes } from 'node:crypto';
import { parseWorkerConfig } from '../config/worker-config.ts';
import { type Dashboard, PortInUseError, startDashboard } from '../dashboard/index.ts';
import { defaultRunner } from '../exec/command-runner.ts';
import type { Logger } from '../logging/logger.ts';
import { hostTableName, listNetns, readNftTable, removeHostNetwork, sweepNetwork } from '../network/index.ts';
import { HangarClient } from '../producer/hangar-client.ts';
import type { TemplateCatalog } from '../templates/template-catalog.ts';
import { findChBinary } from '../vmm/cloud-hypervisor/ch-backend.ts';
import { HostWorker } from '../workers/host-worker.ts';

/** Latencies that make the simulator feel like a small real VM (only used when it stands in). */
export const SIMULATOR_LATENCY = 'boot=150,pause=30,resume=30,snapshot=100,snapshot_per_gib=400,restore=150';

/** The demo's host id. */
export const DEMO_HOST_ID = 'demo-host';

/** What the demo runs in-process: one host worker, a client and the dashboard. */
export interface DemoFleet {
  worker: HostWorker;
  client: HangarClient;
  dashboard: Dashboard;
}

/** How the demo fleet is started. */
export interface DemoFleetOptions {
  redisUrl: string;
  keyPrefix: string;
  stateDir: string;
  templates: TemplateCatalog;
  network: Record<string, unknown>;
  /** Dashboard port; when taken the next ones are tried (0: any free port). */
  port: number;
  logger: Logger;
}

/**
 * Starts a worker (vmm 'ch-or-simulator': the real cloud-hypervisor when installed, else the simulator
 * with some latency), a client and the dashboard; worker and client share a job key of the run's own. What started is cleaned up if a later part fails.
 */
export async function startDemoFleet(options: DemoFleetOptions): Promise<DemoFleet> {
  const standIn = (await findChBinary()) === undefined;
  const config = parseWorkerConfig({
    hostId: DEMO_HOST_ID,
    redisUrl: options.redisUrl,
    keyPrefix: options.keyPrefix,
    stateDir: options.stateDir,
    vmm: 'ch-or-simulator',
    disk: 'auto',
    poolSize: 2,
    heartbeatMs: 1_000,
    network: options.network,
    vmmEnv: standIn ? { HANGAR_SIM_LATENCY: SIMULATOR_LATENCY } : {},
  });
  // A job key made for the run: the tour's jobs are signed and the worker runs no other.
  const jobKey = randomBytes(32);
  const worker = await HostWorker.create(config, options.templates, { logger: options.logger, jobKey });
  let client: HangarClient | undefined;
  try {
    await worker.start();
    client = await HangarClient.connect({ redisUrl: options.redisUrl, keyPrefix: options.keyPrefix, jobKey });
    const dashboard = await dashboardOnFreePort(options);
    return { worker, client, dashboard };
  } catch (error) {
    await client?.close();
    await worker.stop().catch(() => undefined);
    await cleanupHost(worker);
    throw error;
  }
}

async function dashboardOnFreePort(options: DemoFleetOptions): Promise<Dashboard> {
  for (let port = options.port; ; port += 1) {
    try {
      return await startDashboard({
        redisUrl: options.redisUrl,
        keyPrefix: options.keyPrefix,
        // Loopback needs no credentials; read-only is enough, the tour acts through the client.
        host: '127.0.0.1',
        port,
        logger: options.logger,
      });
    } catch (error) {
      if (!(error instanceof PortInUseError) || port === 0 || port >= options.port + 50 || port >= 65_535)
        throw error;
    }
  }
}

/**
 * Removes what the worker left on the host after it stopped: VMs and disks of sandboxes still
 * in its ledger, the warm slots (namespaces), any stray network object of its prefix and the
 * host nft table. Best effort: each part runs even when an earlier one failed.
 */
export async function cleanupHost(worker: HostWorker): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const { ctx } = worker;
  for (const entry of ctx.ledger.entries()) {
    await attempt(`stop VM of ${entry.sandboxId}`, () => ctx.vms.get(entry.sandboxId).shutdown());
    await attempt(`remove disk of ${entry.sandboxId}`, () =>
      ctx.disks.remove(entry.sandboxId, {
        templateId: entry.template,
        imagePath: ctx.templates.get(entry.template).imagePath,
      }),
    );
  }
  await attempt('drain the slot pool', () => ctx.slots.drain());
  await attempt('sweep disks', () => ctx.disks.sweep(new Set()));
  await attempt('sweep network objects', () => sweepNetwork(ctx.network, new Set()));
  await attempt('remove the host nft table', () => removeHostNetwork(ctx.network));
  await attempt('check for leftovers', async () => {
    const namespaces = (await listNetns(defaultRunner)).filter((name) =>
      name.startsWith(`${ctx.network.prefix}-`),
    );
    if (namespaces.length > 0) problems.push(`namespaces left: ${namespaces.join(', ')}`);
    if ((await readNftTable(defaultRunner, 'inet', hostTableName(ctx.network))) !== undefined) {
      problems.push(`nft table inet ${hostTableName(ctx.network)} is still there`);
    }
  });
  return problems;
}
