// A batch snapshot over real workers: `hosts` HostWorkers in this process, each with its
// own state dir, network prefix and ranges, on the in-process stand-in with a fixed
// snapshot latency. Sandboxes are created through the client (each builds its real netns
// on the spot: the cheapest real path, one build per sandbox), then snapshotted as one
// batch; the wall time from snapshotBatch() to the parent's result is set against the ideal
// the stand-in's latency and the per-host concurrency allow.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { deletePrefixKeys } from '../../src/demo/delete-keys.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { snapshotBatch } from '../../src/producer/snapshot-batch.ts';
import { timeMs } from '../support/stats.ts';
import type { PhaseContext } from './fleet-phase.ts';
import { REAL_TEMPLATE, type RealHost, startRealHost } from './real-host.ts';

/** What the batch phase is asked to do. */
export interface BatchPlan {
  hosts: number;
  /** Sandboxes created; batches of `sizes` of them are snapshotted in turn. */
  sandboxes: number;
  sizes: readonly number[];
  concurrencyPerHost: number;
  snapshotMs: number;
}

/** One batch's figures. */
export interface BatchFigures {
  size: number;
  wallMs: number;
  enqueueMs: number;
  idealMs: number;
  perHost: number[];
  /** Busy share of the machine's CPUs during the batch, and this process's CPU in cores. */
  machineBusy: number;
  processCores: number;
}

/** The phase's figures: every batch, one snapshot alone, and how long the setup took. */
export interface BatchPhaseFigures {
  plan: BatchPlan;
  batches: BatchFigures[];
  singleSnapshotMs: number[];
  createMs: number;
  spread: number[];
}

/** The ideal: each host runs its share `concurrencyPerHost` at a time, each taking `snapshotMs`. */
export function idealBatchMs(
  size: number,
  hosts: number,
  concurrencyPerHost: number,
  snapshotMs: number,
): number {
  return Math.ceil(size / hosts / concurrencyPerHost) * snapshotMs;
}

/** Runs the batch phase; every worker, slot, disk and key is gone when it returns. */
export async function batchPhase(phase: PhaseContext, plan: BatchPlan): Promise<BatchPhaseFigures> {
  const keyPrefix = `hgsc-batch-${randomBytes(3).toString('hex')}`;
  const { cleanups, interrupted, log } = phase;
  const releaseKeys = cleanups.add(`keys ${keyPrefix}`, async () => {
    await deletePrefixKeys(phase.redisUrl, keyPrefix);
  });
  const workerTeardowns: (() => Promise<void>)[] = [];
  let closeClient: () => Promise<void> = async () => undefined;
  try {
    const hosts: RealHost[] = await Promise.all(
      Array.from({ length: plan.hosts }, async (_, index) => {
        const host = await startRealHost({
          redisUrl: phase.redisUrl,
          keyPrefix,
          hostId: `batch-${index}`,
          dir: join(phase.dir, `batch-${index}`),
          network: {
            prefix: `hgsb${index}`,
            vethRange: `10.252.${index * 16}.0/20`,
            hostRange: `10.253.${index * 16}.0/20`,
          },
          poolSize: 0,
          latency: `snapshot=${plan.snapshotMs}`,
        });
        workerTeardowns.push(cleanups.add(`batch worker ${index}`, host.teardown));
        return host;
      }),
    );
    const client = await HangarClient.connect({ redisUrl: phase.redisUrl, keyPrefix });
    closeClient = cleanups.add('batch client', () => client.close());
    log(`  batch: ${plan.hosts} workers up; creating ${plan.sandboxes} sandboxes`);
    const ids: string[] = [];
    const createMs = await timeMs(() => createAll(client, plan.sandboxes, ids, interrupted));
    const spread = hosts.map((host) => host.worker.ctx.ledger.entries().length);
    log(
      `  batch: ${ids.length} sandboxes in ${(createMs / 1000).toFixed(1)} s, per host ${spread.join('/')}`,
    );
    const singleSnapshotMs: number[] = [];
    for (const sandboxId of ids.slice(0, 10)) {
      if (interrupted()) break;
      singleSnapshotMs.push(await timeMs(async () => (await client.snapshot(sandboxId)).result()));
    }
    const batches: BatchFigures[] = [];
    for (const size of plan.sizes) {
      if (interrupted() || size > ids.length) break;
      const chosen = ids.slice(0, size);
      let enqueueMs = 0;
      const cpu = cpuMeter();
      const wallMs = await timeMs(async () => {
        const started = performance.now();
        const batch = await snapshotBatch(client, chosen, { concurrencyPerHost: plan.concurrencyPerHost });
        enqueueMs = performance.now() - started;
        await batch.parent.result(600_000);
      });
      const perHost = hosts.map(
        (host) => host.worker.ctx.ledger.entries().filter((e) => chosen.includes(e.sandboxId)).length,
      );
      batches.push({
        size,
        wallMs,
        enqueueMs,
        idealMs: idealBatchMs(size, plan.hosts, plan.concurrencyPerHost, plan.snapshotMs),
        perHost,
        ...cpu.read(),
      });
      log(`  batch of ${size}: ${wallMs.toFixed(0)} ms`);
    }
    return { plan, batches, singleSnapshotMs, createMs, spread };
  } finally {
    // The client, then the workers side by side (each stops, then removes what it made).
    const started = performance.now();
    await closeClient();
    await Promise.all(workerTeardowns.map((teardown) => teardown()));
    await releaseKeys();
    log(`  batch: torn down in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

// The machine's busy CPU share and this process's cores used, from the call to read().
function cpuMeter(): { read(): { machineBusy: number; processCores: number } } {
  const machine = () =>
    cpus().reduce(
      (sum, cpu) => {
        const { idle, ...busy } = cpu.times;
        const used = Object.values(busy).reduce((a, b) => a + b, 0);
        return { busy: sum.busy + used, all: sum.all + used + idle };
      },
      { busy: 0, all: 0 },
    );
  const startMachine = machine();
  const startProcess = process.cpuUsage();
  const started = performance.now();
  return {
    read() {
      const end = machine();
      const used = process.cpuUsage(startProcess);
      const wallUs = (performance.now() - started) * 1000;
      return {
        machineBusy: (end.busy - startMachine.busy) / Math.max(1, end.all - startMachine.all),
        processCores: (used.user + used.system) / Math.max(1, wallUs),
      };
    },
  };
}

// Creates in waves of 20 in flight: placement spreads them by free memory over the hosts.
async function createAll(
  client: HangarClient,
  count: number,
  ids: string[],
  interrupted: () => boolean,
): Promise<void> {
  const WAVE = 20;
  for (let start = 0; start < count && !interrupted(); start += WAVE) {
    const wave = Array.from({ length: Math.min(WAVE, count - start) }, async () => {
      const handle = await client.create({
        template: REAL_TEMPLATE,
        vcpus: 1,
        memoryMib: 128,
        labels: { bench: 'batch' },
      });
      ids.push(String((await handle.result()).sandboxId));
    });
    await Promise.all(wave);
  }
}
