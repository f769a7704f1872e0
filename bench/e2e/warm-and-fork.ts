// The e2e bench's second part, on a worker whose VM pool keeps test-guest VMs booted and
// paused: warm creates (a pool hit) against the cold creates measured before, and fork
// fan-out of 1, 4 and 8 clones of one snapshot (wall time until every clone answers, each
// clone's own ready time, the disk bytes each clone wrote).
import type { HangarClient } from '../../src/producer/hangar-client.ts';
import type { HostWorker } from '../../src/workers/host-worker.ts';
import type { BenchRow, BenchTable } from '../support/bench-result.ts';
import { median, summarize } from '../support/stats.ts';

/** What this part measured. */
export interface WarmAndForkFigures {
  warm: BenchRow;
  forks: { clones: number; wallMs: number; readyMs: number[]; diskBytes: number[] }[];
  table: BenchTable;
}

/** Shape of every sandbox of the e2e bench (the pool's too, so a create hits it). */
export const BENCH_SHAPE = { template: 'guest', vcpus: 1, memoryMib: 256 } as const;

/**
 * `samples` warm creates, each once the pool is full again (so every one is a hit), then
 * fan-outs of `snapshotId`. The worker's concurrency must let the largest fan-out run at once.
 */
export async function warmAndFork(
  client: HangarClient,
  worker: HostWorker,
  snapshotId: string,
  options: { samples: number; fanOuts: readonly number[] },
): Promise<WarmAndForkFigures> {
  const warm: number[] = [];
  for (let index = 0; index < options.samples; index += 1) {
    await worker.ctx.pool.waitUntilFull(300_000);
    const began = performance.now();
    const handle = await client.create({ ...BENCH_SHAPE, sandboxId: `bench-warm-${index}` });
    const created = await handle.result(300_000);
    warm.push(performance.now() - began);
    if (worker.ctx.ledger.get(created.sandboxId)?.vmId === undefined) {
      throw new Error(`warm create ${index} was not served from the pool`);
    }
    await (await client.destroy(created.sandboxId)).result(120_000);
  }
  const forks: WarmAndForkFigures['forks'] = [];
  for (const clones of options.fanOuts) {
    await worker.ctx.pool.waitUntilFull(300_000);
    await worker.ctx.slots.waitUntilWarm(120_000);
    const began = performance.now();
    const handles = await client.fork(snapshotId, clones);
    const readyMs: number[] = [];
    const results = await Promise.all(
      handles.map(async (handle) => {
        const result = await handle.result(600_000);
        readyMs.push(performance.now() - began);
        return result;
      }),
    );
    const wallMs = performance.now() - began;
    forks.push({ clones, wallMs, readyMs, diskBytes: results.map((result) => result.diskBytes ?? 0) });
    for (const result of results) await (await client.destroy(result.sandboxId)).result(120_000);
  }
  const one = forks.find((fork) => fork.clones === 1)?.wallMs ?? Number.NaN;
  const table: BenchTable = {
    title:
      'fork fan-out of one snapshot (QEMU TCG, 256 MiB): every clone reads the same memory file and writes its own CoW disk',
    header: ['clones', 'wall ms', 'x of one', 'per-clone ready ms (median)', 'disk bytes per clone (median)'],
    rows: forks.map((fork) => [
      String(fork.clones),
      fork.wallMs.toFixed(0),
      (fork.wallMs / one).toFixed(2),
      median(fork.readyMs).toFixed(0),
      median(fork.diskBytes).toFixed(0),
    ]),
  };
  return { warm: { label: 'warm create to ready (pool hit)', ...summarize(warm) }, forks, table };
}
