// The control plane's own cost against BullMQ's floor: a no-op BullMQ job's round trip beside
// a pause+resume through hangar (client -> host queue -> worker -> CH simulator with zero
// latency -> records/events -> client), and jobs per second for both at one concurrency.
import { randomBytes } from 'node:crypto';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { parseWorkerConfig } from '../src/config/worker-config.ts';
import { HangarClient } from '../src/producer/hangar-client.ts';
import { TemplateCatalog } from '../src/templates/template-catalog.ts';
import { HostWorker } from '../src/workers/host-worker.ts';
import { teardownBenchHost } from './support/bench-host.ts';
import type { BenchResult, BenchRow } from './support/bench-result.ts';
import { summarize, timeMs } from './support/stats.ts';
import { withTempDir } from './support/temp-dir.ts';

export const name = 'control-plane';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUND_TRIPS = 200;
const THROUGHPUT_JOBS = 800;
const CONCURRENCY = 8;
/**
 * Sandboxes driven at once in the throughput run: each runs its jobs one after another (a
 * sandbox's jobs are ordered), so more sandboxes than the worker's concurrency keep it as
 * busy as BullMQ's queue of no-op jobs keeps its worker.
 */
const THROUGHPUT_SANDBOXES = 32;

export async function run(): Promise<BenchResult> {
  const floor = await bullmqFloor();
  const hangar = await hangarRoundTrips();
  const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : `${(a / b).toFixed(1)}x`);
  return {
    name,
    rows: [floor.roundTrip, hangar.roundTrip, hangar.pauseOnly],
    comparisons: [
      {
        label: 'BullMQ floor vs hangar pause+resume',
        fast: floor.roundTrip.label,
        slow: hangar.roundTrip.label,
      },
    ],
    notes: [
      `throughput at worker concurrency ${CONCURRENCY}: BullMQ no-op ${floor.perSecond.toFixed(0)} jobs/s (${THROUGHPUT_JOBS} queued at once), hangar pause/resume ${hangar.perSecond.toFixed(0)} jobs/s (${THROUGHPUT_SANDBOXES} sandboxes, each job awaited before its sandbox's next), ${(hangar.perSecond / floor.perSecond).toFixed(2)}x BullMQ's`,
      `round-trip ratio hangar/BullMQ: median ${ratio(hangar.roundTrip.median, floor.roundTrip.median)}, p99 ${ratio(hangar.roundTrip.p99, floor.roundTrip.p99)} (a hangar round trip is two jobs: pause, then resume)`,
      'VMM: the CH API simulator with zero latency (stand-in), so the figures are the control plane plus two Unix-socket HTTP calls per job',
    ],
  };
}

async function bullmqFloor(): Promise<{ roundTrip: BenchRow; perSecond: number }> {
  const prefix = `hangar-bench-${randomBytes(3).toString('hex')}`;
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix });
  const events = new QueueEvents('noop', { connection: { url: REDIS_URL }, prefix });
  const worker = new Worker('noop', async () => ({ ok: true }), {
    connection,
    prefix,
    concurrency: CONCURRENCY,
  });
  try {
    await Promise.all([events.waitUntilReady(), worker.waitUntilReady()]);
    const samples: number[] = [];
    for (let index = 0; index < ROUND_TRIPS; index += 1) {
      samples.push(await timeMs(async () => (await queue.add('noop', { index })).waitUntilFinished(events)));
    }
    const started = performance.now();
    const finished = allCompleted(events);
    const jobs = await queue.addBulk(
      Array.from({ length: THROUGHPUT_JOBS }, (_, index) => ({ name: 'noop', data: { index } })),
    );
    await finished.until(jobs.map((job) => job.id!));
    const perSecond = THROUGHPUT_JOBS / ((performance.now() - started) / 1000);
    return { roundTrip: { label: 'BullMQ no-op job round trip', ...summarize(samples) }, perSecond };
  } finally {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
  }
}

/**
 * Waits for many jobs through one `completed` listener. Job.waitUntilFinished adds a
 * `closing` listener to the job's Queue per waiting job, so 800 jobs awaited at once put
 * 800 listeners on one Queue (Node's MaxListenersExceededWarning); one counting listener
 * is also what a producer that waits for many jobs would do. Listens from the call on, so
 * a job that completes before `until` names it is still counted.
 */
function allCompleted(events: QueueEvents): { until(jobIds: readonly string[]): Promise<void> } {
  const done = new Set<string>();
  let check: (() => void) | undefined;
  const onCompleted = ({ jobId }: { jobId: string }) => {
    done.add(jobId);
    check?.();
  };
  events.on('completed', onCompleted);
  return {
    until: (jobIds) =>
      new Promise<void>((resolve) => {
        check = () => {
          if (jobIds.every((id) => done.has(id))) {
            events.off('completed', onCompleted);
            resolve();
          }
        };
        check();
      }),
  };
}

type HangarFigures = { roundTrip: BenchRow; pauseOnly: BenchRow; perSecond: number };

function hangarRoundTrips(): Promise<HangarFigures> {
  return withTempDir('hangar-bench-cp-', (path) => hangarIn({ path }));
}

async function hangarIn(dir: { path: string }): Promise<HangarFigures> {
  const keyPrefix = `hangar-bench-${randomBytes(3).toString('hex')}`;
  const kernelPath = join(dir.path, 'vmlinux');
  const imagePath = join(dir.path, 'base.img');
  await writeFile(kernelPath, 'placeholder');
  await writeFile(imagePath, '');
  await truncate(imagePath, 16 * 1024 * 1024);
  const config = parseWorkerConfig({
    hostId: 'bench',
    redisUrl: REDIS_URL,
    keyPrefix,
    stateDir: join(dir.path, 'state'),
    vmm: 'simulator',
    disk: 'file',
    poolSize: THROUGHPUT_SANDBOXES,
    concurrency: CONCURRENCY,
    network: { prefix: 'hgbc', vethRange: '10.234.0.0/16', hostRange: '10.235.0.0/16' },
  });
  const worker = await HostWorker.create(
    config,
    new TemplateCatalog([{ templateId: 'base', kernelPath, imagePath }]),
  );
  await worker.start();
  const client = await HangarClient.connect({ redisUrl: REDIS_URL, keyPrefix });
  const ids: string[] = [];
  try {
    for (let index = 0; index < THROUGHPUT_SANDBOXES; index += 1) {
      ids.push(
        String(
          (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
        ),
      );
    }
    // The network pool refills after the creates: its builds would compete for the same two cores.
    await worker.ctx.slots.waitUntilWarm(120_000);
    const id = ids[0]!;
    const pauses: number[] = [];
    const samples: number[] = [];
    for (let index = 0; index < ROUND_TRIPS / 2; index += 1) {
      samples.push(
        await timeMs(async () => {
          pauses.push(await timeMs(async () => (await client.pause(id)).result()));
          await (await client.resume(id)).result();
        }),
      );
    }
    // Throughput: one pause/resume chain per sandbox, all sandboxes at once.
    const perSandbox = Math.floor(THROUGHPUT_JOBS / THROUGHPUT_SANDBOXES);
    const started = performance.now();
    await Promise.all(
      ids.map(async (sandboxId) => {
        for (let index = 0; index < perSandbox; index += 1) {
          await (await (index % 2 === 0 ? client.pause(sandboxId) : client.resume(sandboxId))).result();
        }
      }),
    );
    const perSecond = (perSandbox * ids.length) / ((performance.now() - started) / 1000);
    return {
      roundTrip: { label: 'hangar pause+resume round trip', ...summarize(samples) },
      pauseOnly: { label: 'hangar pause round trip', ...summarize(pauses) },
      perSecond,
    };
  } finally {
    for (const sandboxId of ids) await (await client.destroy(sandboxId)).result().catch(() => undefined);
    await teardownBenchHost(client, worker, REDIS_URL, keyPrefix);
  }
}
