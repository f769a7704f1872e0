// One cell of the scale table: a fleet size and a record count, measured on the real
// control plane. Each block runs with the stand-in hosts quiet. Commands per operation
// come twice: INFO commandstats around the timed block (everything the server ran, Lua
// included) net of the idle background, and MONITOR around a short untimed pass (the
// commands clients sent), so neither measurement slows the timed samples.
import type { Redis } from 'ioredis';
import type { HangarClient } from '../../src/producer/hangar-client.ts';
import { timeMs } from '../support/stats.ts';
import { clientTotal, watchCommands } from './command-watch.ts';
import { type IdleFigures, idleWindow } from './idle-window.ts';
import { type LiveSandboxBytes, liveSandboxBytes } from './live-bytes.ts';
import { REAL_TEMPLATE, type RealHost } from './real-host.ts';
import { addCounts, type CommandCounts, countBlock, perOperation } from './redis-counters.ts';
import { LIST_LABEL } from './seed.ts';
import { STAND_IN_TEMPLATE, type StandInHosts } from './stand-in-hosts.ts';

/** Timed samples per cell, and the untimed ones MONITOR watches. */
export const CELL_SAMPLES = { placement: 100, create: 16, pauseRounds: 2, list: 10 } as const;
const WATCHED_SAMPLES = { placement: 40, create: 3, pause: 6, list: 3 } as const;

/** The page size of a listing by label. */
export const PAGE_SIZE = 100;

/**
 * The idle window over which heartbeat and lost-host work is counted: a whole number of
 * both loops' periods (2 s beat, 4 s check by default), so it holds the same number of each.
 */
export const IDLE_WINDOW_MS = 12_000;

/** Lets the tail of a block's last job (BullMQ completing it, fetching the next) land. */
const SETTLE_MS = 200;

type Op = 'placement' | 'create' | 'pause' | 'listPage' | 'list';

/** What a cell needs: the fleet's Redis, one client, the real worker and the stand-ins. */
export interface CellContext {
  redis: Redis;
  redisUrl: string;
  keyPrefix: string;
  client: HangarClient;
  real: RealHost;
  standIns: StandInHosts;
  interrupted: () => boolean;
}

/** Everything measured in one cell (latencies in ms, commands per operation). */
export interface CellFigures {
  hosts: number;
  records: number;
  placement: number[];
  create: number[];
  pause: number[];
  /** client.listPage({ labels }, { limit: PAGE_SIZE }): one page. */
  listPage: number[];
  pageReturned: number;
  /** client.list({ labels }): every match. */
  list: number[];
  listReturned: number;
  commands: Record<Op, CommandCounts>;
  clientCommands: Record<Op, number>;
  bytesPerSeededRecord: number;
  live: LiveSandboxBytes & { jobs: number };
  idle: IdleFigures;
}

/** Measures one cell; `bytesPerSeededRecord` comes from the seeding step before it. */
export async function measureCell(
  cell: CellContext,
  size: { hosts: number; records: number; bytesPerSeededRecord: number },
): Promise<CellFigures> {
  const { redis, client, standIns, interrupted } = cell;
  const idle = await standIns.quietly(() => idleWindow(redis, cell.redisUrl, IDLE_WINDOW_MS));
  const counted = (block: () => Promise<void>) =>
    standIns.quietly(() => countBlock(redis, idle.perSecond, block, SETTLE_MS));
  const watched = (n: number, block: () => Promise<void>) =>
    standIns.quietly(() => clientCommandsPer(cell.redisUrl, idle, n, block));
  const repeat = async (n: number, op: () => Promise<void>) => {
    for (let i = 0; i < n && !interrupted(); i += 1) await op();
  };

  const placement: number[] = [];
  const place = () =>
    client.create({ template: STAND_IN_TEMPLATE, vcpus: 1, memoryMib: 128, labels: { bench: 'placement' } });
  const placementCommands = await counted(() =>
    repeat(CELL_SAMPLES.placement, async () => void placement.push(await timeMs(place))),
  );
  const placementClient = await watched(WATCHED_SAMPLES.placement, () =>
    repeat(WATCHED_SAMPLES.placement, async () => void (await place())),
  );

  // Sandbox id -> its job ids; a create waits (untimed) for the warm pool to refill first.
  const jobsOf = new Map<string, string[]>();
  const slots = cell.real.worker.ctx.slots;
  const createOne = async (): Promise<number> => {
    await slots.waitUntilWarm(60_000);
    return timeMs(async () => {
      const handle = await client.create({
        template: REAL_TEMPLATE,
        vcpus: 1,
        memoryMib: 128,
        labels: { ...LIST_LABEL, team: 'real' },
      });
      jobsOf.set(String((await handle.result()).sandboxId), [handle.jobId]);
    });
  };
  const create: number[] = [];
  const createCommands = await counted(() =>
    repeat(CELL_SAMPLES.create, async () => void create.push(await createOne())),
  );
  const createClient = await watched(WATCHED_SAMPLES.create, () =>
    repeat(WATCHED_SAMPLES.create, async () => void (await createOne())),
  );

  const pauseAll = async (ids: string[], samples?: number[]) => {
    for (const sandboxId of ids) {
      const ms = await timeMs(async () => {
        const handle = await client.pause(sandboxId);
        jobsOf.get(sandboxId)?.push(handle.jobId);
        await handle.result();
      });
      samples?.push(ms);
    }
  };
  const resumeAll = (ids: string[]) =>
    standIns.quietly(async () => {
      for (const sandboxId of ids) {
        const handle = await client.resume(sandboxId);
        jobsOf.get(sandboxId)?.push(handle.jobId);
        await handle.result();
      }
    });
  const pause: number[] = [];
  let pauseCommands: CommandCounts = new Map();
  const ids = [...jobsOf.keys()];
  for (let round = 0; round < CELL_SAMPLES.pauseRounds && !interrupted(); round += 1) {
    pauseCommands = addCounts(pauseCommands, await counted(() => pauseAll(ids, pause)));
    await resumeAll(ids);
  }
  const watchedIds = ids.slice(-WATCHED_SAMPLES.pause);
  const pauseClient = await watched(watchedIds.length, () => pauseAll(watchedIds));
  await resumeAll(watchedIds);

  const listPage: number[] = [];
  let pageReturned = 0;
  const pageOnce = async () => {
    pageReturned = (await client.listPage({ labels: LIST_LABEL }, { limit: PAGE_SIZE })).records.length;
  };
  const pageCommands = await counted(() =>
    repeat(CELL_SAMPLES.list, async () => void listPage.push(await timeMs(pageOnce))),
  );
  const pageClient = await watched(WATCHED_SAMPLES.list, () => repeat(WATCHED_SAMPLES.list, pageOnce));

  const list: number[] = [];
  let listReturned = 0;
  const listOnce = async () => {
    listReturned = (await client.list({ labels: LIST_LABEL })).length;
  };
  const listCommands = await counted(() =>
    repeat(CELL_SAMPLES.list, async () => void list.push(await timeMs(listOnce))),
  );
  const listClient = await watched(WATCHED_SAMPLES.list, () => repeat(WATCHED_SAMPLES.list, listOnce));

  // The first sandbox created in this cell, with its create, pauses and resumes.
  const [sampleId, sampleJobs] = [...jobsOf][0] ?? ['', []];
  const live =
    sampleId === ''
      ? { total: Number.NaN, byKind: {}, ownKeys: 0, sharedKeys: 0 }
      : await liveSandboxBytes(redis, cell.keyPrefix, sampleId, sampleJobs);
  return {
    ...size,
    placement,
    create,
    pause,
    listPage,
    pageReturned,
    list,
    listReturned,
    commands: {
      placement: perOperation(placementCommands, Math.max(1, placement.length)),
      create: perOperation(createCommands, Math.max(1, create.length)),
      pause: perOperation(pauseCommands, Math.max(1, pause.length)),
      listPage: perOperation(pageCommands, Math.max(1, listPage.length)),
      list: perOperation(listCommands, Math.max(1, list.length)),
    },
    clientCommands: {
      placement: placementClient,
      create: createClient,
      pause: pauseClient,
      listPage: pageClient,
      list: listClient,
    },
    live: { ...live, jobs: sampleJobs.length },
    idle,
  };
}

/** Client commands per operation over `n` operations under MONITOR, net of the idle clients' rate. */
async function clientCommandsPer(
  redisUrl: string,
  idle: IdleFigures,
  n: number,
  block: () => Promise<void>,
): Promise<number> {
  const watch = await watchCommands(redisUrl);
  const started = performance.now();
  let seen: ReturnType<typeof watch.stop>;
  try {
    await block();
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  } finally {
    seen = watch.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  return Math.max(0, clientTotal(seen) - idle.clientPerSecond * seconds) / Math.max(1, n);
}
