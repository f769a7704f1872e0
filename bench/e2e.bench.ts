// Per-step times of the whole product on a real VMM: QEMU (TCG) booting the test guest,
// real netns/NAT, file-CoW disks, Redis, driven through the client. Each step's time is split
// into the worker's operation (VMM + host steps, the worker's own clock) and the control
// plane (the client's round trip minus that).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { request } from 'undici';
import { parseWorkerConfig } from '../src/config/worker-config.ts';
import { HangarClient } from '../src/producer/hangar-client.ts';
import type { JobHandle } from '../src/producer/job-handle.ts';
import { TemplateCatalog } from '../src/templates/template-catalog.ts';
import { testGuestBuilt } from '../src/templates/test-guest.ts';
import { testGuestTemplate } from '../src/templates/test-guest-template.ts';
import { HostWorker } from '../src/workers/host-worker.ts';
import { type SnapshotLifecycleFigures, snapshotLifecycle } from './e2e/snapshot-lifecycle.ts';
import { type SnapshotMoveFigures, snapshotMove } from './e2e/snapshot-move.ts';
import { BENCH_SHAPE, type WarmAndForkFigures, warmAndFork } from './e2e/warm-and-fork.ts';
import { teardownBenchHost, teardownBenchWorker } from './support/bench-host.ts';
import type { BenchResult, BenchRow } from './support/bench-result.ts';
import { summarize } from './support/stats.ts';
import { withTempDir } from './support/temp-dir.ts';

export const name = 'e2e';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SANDBOXES = Number(process.env.HANGAR_BENCH_E2E_SANDBOXES ?? 3);
const FAN_OUTS = [1, 4, 8] as const;
const MOVE_ROUNDS = 3;
const STEPS = ['create to ready', 'pause', 'resume', 'snapshot', 'restore to ready', 'destroy'] as const;

interface Timing {
  total: number;
  operation: number;
}

async function timed(start: () => Promise<JobHandle>): Promise<Timing> {
  const began = performance.now();
  const result = await (await start()).result(300_000);
  const total = performance.now() - began;
  const operation = Date.parse(String(result.finishedAt)) - Date.parse(String(result.startedAt));
  return { total, operation };
}

export async function run(): Promise<BenchResult> {
  if (!testGuestBuilt()) throw new Error('the test guest is not built: run npm run guest:build');
  return withTempDir('hangar-bench-e2e-', (dir) => measure(dir));
}

async function measure(dir: string): Promise<BenchResult> {
  const keyPrefix = `hangar-bench-${randomBytes(3).toString('hex')}`;
  const template = await testGuestTemplate(join(dir, 'template'));
  const config = parseWorkerConfig({
    hostId: 'bench-e2e',
    redisUrl: REDIS_URL,
    keyPrefix,
    stateDir: join(dir, 'state'),
    vmm: 'qemu',
    disk: 'file',
    poolSize: 2,
    concurrency: 2,
    network: { prefix: 'hgbe', vethRange: '10.236.0.0/16', hostRange: '10.237.0.0/16' },
    // Moves fetch snapshots from this host's transfer server, authorized with the job key.
    transfer: { port: 0, listen: '127.0.0.1' },
  });
  const jobKey = randomBytes(32).toString('hex');
  let worker = await HostWorker.create(config, new TemplateCatalog([template]), { jobKey });
  await worker.start();
  const client = await HangarClient.connect({ redisUrl: REDIS_URL, keyPrefix, jobKey });
  let target: HostWorker | undefined;
  let warmAndForkFigures: WarmAndForkFigures | undefined;
  let lifecycleFigures: SnapshotLifecycleFigures | undefined;
  let moveFigures: SnapshotMoveFigures | undefined;
  const timings = new Map<string, Timing[]>(STEPS.map((step) => [step, []]));
  const record = (step: string, timing: Timing) => timings.get(step)!.push(timing);
  try {
    for (let index = 0; index < SANDBOXES; index += 1) {
      const id = `bench-${index}`;
      record(
        'create to ready',
        await timed(() => client.create({ sandboxId: id, template: 'guest', vcpus: 1, memoryMib: 256 })),
      );
      // The guest writes its counter to its disk, so the snapshot's disk (and each fork's) holds data.
      const address = (await client.get(id))?.address;
      if (address !== undefined) await (await request(`http://${address}/cgi-bin/counter`)).body.text();
      record('pause', await timed(() => client.pause(id)));
      record('resume', await timed(() => client.resume(id)));
      record('snapshot', await timed(() => client.snapshot(id, { snapshotId: `bench-snap-${index}` })));
      record(
        'restore to ready',
        await timed(() => client.restore(`bench-snap-${index}`, { sandboxId: `bench-r-${index}` })),
      );
      record('destroy', await timed(() => client.destroy(`bench-r-${index}`)));
      await (await client.destroy(id)).result();
    }
    // The same host again, now keeping a VM pool of the bench's shape: warm creates and forks.
    await worker.stop();
    worker = await HostWorker.create(
      parseWorkerConfig({
        ...config,
        concurrency: Math.max(...FAN_OUTS),
        poolSize: Math.max(...FAN_OUTS),
        pool: { guest: { count: 2, vcpus: BENCH_SHAPE.vcpus, memoryMib: BENCH_SHAPE.memoryMib } },
      }),
      new TemplateCatalog([template]),
      { jobKey },
    );
    await worker.start();
    lifecycleFigures = await snapshotLifecycle(client, { members: 4, rounds: 2 });
    warmAndForkFigures = await warmAndFork(client, worker, 'bench-snap-0', {
      samples: SANDBOXES,
      fanOuts: FAN_OUTS,
    });
    moveFigures = await snapshotMove(
      client,
      worker,
      async () => {
        target = await HostWorker.create(
          parseWorkerConfig({
            ...config,
            hostId: 'bench-e2e-b',
            stateDir: join(dir, 'state-b'),
            network: { prefix: 'hgbf', vethRange: '10.238.0.0/16', hostRange: '10.239.0.0/16' },
          }),
          new TemplateCatalog([template]),
          { jobKey },
        );
        await target.start();
        return target;
      },
      { rounds: MOVE_ROUNDS },
    );
  } finally {
    if (target !== undefined) await teardownBenchWorker(target);
    await teardownBenchHost(client, worker, REDIS_URL, keyPrefix);
  }
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const step of STEPS) {
    const samples = timings.get(step)!;
    const total = summarize(samples.map((timing) => timing.total));
    const operation = summarize(samples.map((timing) => timing.operation));
    rows.push({ label: step, ...total });
    notes.push(
      `${step}: median ${total.median.toFixed(0)} ms = worker operation (VMM + host steps) ${operation.median.toFixed(0)} ms + control plane ${(total.median - operation.median).toFixed(0)} ms`,
    );
  }
  const tables = [];
  if (lifecycleFigures !== undefined) {
    rows.push(...lifecycleFigures.rows);
    tables.push(lifecycleFigures.table);
  }
  if (moveFigures !== undefined) {
    rows.push(...moveFigures.rows);
    tables.push(moveFigures.table);
    notes.push(...moveFigures.notes);
  }
  if (warmAndForkFigures !== undefined) {
    const { warm, forks, table } = warmAndForkFigures;
    rows.push(warm);
    tables.push(table);
    const cold = summarize(timings.get('create to ready')!.map((timing) => timing.total));
    const eight = forks.find((fork) => fork.clones === 8);
    const one = forks.find((fork) => fork.clones === 1);
    notes.push(
      `warm create (pool hit) ${warm.median.toFixed(0)} ms against cold ${cold.median.toFixed(0)} ms: 1/${(cold.median / warm.median).toFixed(1)} of a cold create (target 1/20)`,
    );
    if (eight !== undefined && one !== undefined) {
      notes.push(
        `fan-out of 8 took ${(eight.wallMs / one.wallMs).toFixed(2)}x the wall time of one (target <= 3x)`,
      );
    }
  }
  notes.push(
    `QEMU ${worker.ctx.backend.info.version} under TCG (no KVM here); ${SANDBOXES} sandboxes of 1 vCPU / 256 MiB; medians`,
  );
  return {
    name,
    rows,
    tables,
    notes,
    comparisons: [
      { label: 'cold vs warm create', fast: 'warm create to ready (pool hit)', slow: 'create to ready' },
    ],
  };
}
