// `npm run bench:scale`: the control plane at fleet scale (issue 11). The real Redis, BullMQ,
// HangarClient and HostWorker; one real worker per fleet on the in-process VMM stand-in
// (no VM: VM state in the worker's memory) with real file-CoW disks and real network
// slots from a warm pool; the other hosts of the fleet are registered stand-in hosts
// (heartbeats written through FleetStore.beat, no worker behind them). Fleets of 10 and 100
// hosts at 1k, 10k and 100k seeded records; then a batch snapshot over 10 real workers.
// Redis: a private redis-server started for the run (its INFO commandstats and memory are
// then this bench's alone), or REDIS_URL's with a private key prefix, deleted at the end.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DemoRedis, startPrivateRedis } from '../src/demo/demo-redis.ts';
import { type BatchPhaseFigures, type BatchPlan, batchPhase } from './scale/batch-phase.ts';
import { CELL_SAMPLES, type CellFigures, IDLE_WINDOW_MS, PAGE_SIZE } from './scale/cell.ts';
import { Cleanups } from './scale/cleanups.ts';
import { fleetPhase } from './scale/fleet-phase.ts';
import {
  batchReport,
  cellRows,
  cellTable,
  commandTable,
  idleAndBytesTable,
  rawFigures,
} from './scale/scale-report.ts';
import { LIST_SHARE } from './scale/seed.ts';
import type { BenchResult } from './support/bench-result.ts';
import { interruptible } from './support/interrupt.ts';

/** This bench's name in tables and result files. */
export const name = 'scale';

const FLEETS = [10, 100] as const;
const RECORD_COUNTS = [1_000, 10_000, 100_000] as const;

/**
 * 1,000 real sandboxes (a netns, a loop device each) do not fit this 2-core machine's time
 * budget next to the rest; 200 over 10 hosts do, and the notes say how the figure scales.
 */
const BATCH: BatchPlan = {
  hosts: 10,
  sandboxes: 200,
  sizes: [50, 100, 200],
  concurrencyPerHost: 2,
  snapshotMs: 20,
};

/** Runs every phase; cleans up everything, also on Ctrl-C. */
export async function run(): Promise<BenchResult> {
  const cleanups = new Cleanups();
  const dir = await mkdtemp(join(tmpdir(), 'hangar-bench-scale-'));
  cleanups.add(`temp dir ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const redis = await benchRedis();
  cleanups.add('bench redis', () => redis.stop());
  console.log(
    `scale: Redis ${redis.url} (${redis.source === 'private' ? 'a private redis-server for this run' : 'REDIS_URL, shared: its commandstats count other clients too'}); VMM: in-process stand-in (no VM)`,
  );
  const log = (line: string) => console.log(line);
  return interruptible(
    () => cleanups.run(),
    async (interrupted) => {
      const phase = { redisUrl: redis.url, dir, cleanups, interrupted, log };
      const started = performance.now();
      const cells: CellFigures[] = [];
      for (const hosts of FLEETS) {
        if (interrupted()) break;
        log(`fleet of ${hosts} hosts ...`);
        cells.push(...(await fleetPhase(phase, hosts, RECORD_COUNTS)));
      }
      let batch: BatchPhaseFigures | undefined;
      if (!interrupted()) {
        log(`batch snapshot: ${BATCH.sandboxes} sandboxes over ${BATCH.hosts} real workers ...`);
        batch = await batchPhase(phase, BATCH);
      }
      return report(cells, batch, (performance.now() - started) / 1000, redis.source);
    },
  );
}

function report(
  cells: CellFigures[],
  batch: BatchPhaseFigures | undefined,
  seconds: number,
  source: DemoRedis['source'],
): BenchResult {
  const batched = batch === undefined ? undefined : batchReport(batch);
  return {
    name,
    rows: [...cellRows(cells), ...(batched?.rows ?? [])],
    tables: [
      cellTable(cells),
      commandTable(cells),
      idleAndBytesTable(cells),
      ...(batched === undefined ? [] : [batched.table]),
    ],
    notes: [
      `one real HostWorker per fleet (vmm in-process-stand-in, disk file, real netns slots from a warm pool refilled between create samples); the rest of each fleet are registered stand-in hosts: heartbeats written through FleetStore.beat with a template of their own and capacity, kept alive for the run, no worker behind them`,
      `records: seeded through FleetStore.putSandbox (1,000 writes in flight), round-robin over the stand-in hosts, 80% live (running/paused/crashed), 20% destroyed/failed, labels pool/team/env; B/seeded rec is the INFO used_memory delta per seeded record`,
      `placement: client.create() of the stand-ins' template (no worker consumes it), ${CELL_SAMPLES.placement} per cell; create: ${CELL_SAMPLES.create} creates on the real worker, each taking a warm slot (the pool rebuilds it at the same time, on the same 2 cores) and a 16 MiB file-CoW disk, sparse-copied (this file system cannot reflink) and attached to a loop device; pause: ${CELL_SAMPLES.pauseRounds} rounds over those sandboxes (resumes between, not counted); listing by label pool=p3 (${(LIST_SHARE * 100).toFixed(0)}% of the records match): one page, client.listPage({ labels }, { limit: ${PAGE_SIZE} }), and every match, client.list({ labels }) (n = records returned)`,
      `commands per operation: INFO commandstats delta around the block, minus the idle background rate x the block's wall time, / N; B/live sbx: MEMORY USAGE of every key named after the sandbox or its jobs plus its share of every shared structure holding it`,
      `hb+lost: the real worker's heartbeat and lost-host commands per minute (Lua included), counted with MONITOR over a ${IDLE_WINDOW_MS / 1000} s idle window (stand-in beats held); a host's own figure, whatever the fleet size; the worker's slow maintenance pass (30 s by default) is set to 10 min so it falls outside every window`,
      `Redis: ${source === 'private' ? 'a private redis-server for this run' : 'REDIS_URL (shared; other clients count in commandstats)'}; whole run ${seconds.toFixed(0)} s`,
      ...(batched?.notes ?? []),
    ],
    figures: rawFigures(cells, batch),
  };
}

// REDIS_URL when given (a private key prefix keeps the bench's keys apart; commandstats are
// server-wide), else a private redis-server, so the counters are this bench's alone.
async function benchRedis(): Promise<DemoRedis> {
  const url = process.env.REDIS_URL;
  if (url !== undefined && url !== '') return { url, source: 'env', stop: async () => undefined };
  return startPrivateRedis();
}
