// Network slot figures on real kernel objects (namespaces, veth pairs, routes, nftables):
// the cost of building and removing one slot, and what a warm SlotPool saves the create
// path over building the slot on the spot. Uses its own prefix and ranges, sweeps them
// before and after, and stops early (noting it) when a phase runs out of time.
import { cpus, release } from 'node:os';
import {
  ensureHostNetwork,
  ensureNetwork,
  parseNetworkConfig,
  removeHostNetwork,
  removeNetwork,
  sweepNetwork,
} from '../src/network/index.ts';
import { SlotClaims } from '../src/network/slot-claims.ts';
import { SlotPool } from '../src/network/slot-pool.ts';
import type { BenchResult, BenchRow } from './support/bench-result.ts';
import { interruptible } from './support/interrupt.ts';
import { summarize, timeMs } from './support/stats.ts';
import { withTempDir } from './support/temp-dir.ts';

/** This bench's name in tables and result files. */
export const name = 'network';

const config = parseNetworkConfig({ prefix: 'hgbn', vethRange: '10.232.0.0/16', hostRange: '10.231.0.0/16' });
const BUILD_SAMPLES = 200;
const TAKE_SAMPLES = 50;
const BUILD_BUDGET_MS = 70_000;
const TAKE_BUDGET_MS = 40_000;
const POOL_SIZE = 2;

/** Measures slot build/remove and warm vs cold takes; leaves no kernel objects behind. */
export async function run(): Promise<BenchResult> {
  console.log(
    `network: real kernel objects (netns, veth, routes, nftables; prefix ${config.prefix}) on ` +
      `${cpus().length} cpu, Linux ${release()}`,
  );
  const notes: string[] = [`real kernel objects, prefix ${config.prefix}, sequential, one fresh slot each`];
  const cleanup = async (): Promise<void> => {
    await sweepNetwork(config, new Set());
    await removeHostNetwork(config);
  };
  return interruptible(cleanup, async (interrupted) => {
    await cleanup();
    await ensureHostNetwork(config);
    const rows = await buildAndRemove(interrupted, notes);
    rows.push(...(await warmAndColdTakes(interrupted, notes)));
    return {
      name,
      rows,
      comparisons: [{ label: 'create path wait for a slot, warm pool vs cold', fast: WARM, slow: COLD }],
      notes,
    };
  });
}

const BUILD = 'ensureNetwork (build one slot)';
const REMOVE = 'removeNetwork (remove one slot)';
const WARM = 'SlotPool.take, warm pool';
const COLD = 'SlotPool.take, cold (claim + build)';

// Builds slot i then removes it, for i = 1..BUILD_SAMPLES, timing each call.
async function buildAndRemove(interrupted: () => boolean, notes: string[]): Promise<BenchRow[]> {
  const builds: number[] = [];
  const removes: number[] = [];
  const deadline = Date.now() + BUILD_BUDGET_MS;
  for (let slot = 1; slot <= BUILD_SAMPLES; slot++) {
    if (interrupted() || Date.now() > deadline) {
      notes.push(`build/remove stopped after ${builds.length} of ${BUILD_SAMPLES} (time budget)`);
      break;
    }
    builds.push(await timeMs(() => ensureNetwork(slot, config)));
    removes.push(await timeMs(() => removeNetwork(slot, config)));
  }
  return [
    { label: BUILD, ...summarize(builds) },
    { label: REMOVE, ...summarize(removes) },
  ];
}

// Alternates a take from a full warm pool with a cold take (a pool of size 0), each timed
// while nothing else builds; the taken slot is released untimed.
async function warmAndColdTakes(interrupted: () => boolean, notes: string[]): Promise<BenchRow[]> {
  return withTempDir('hangar-bench-claims-', async (dir) => {
    const claims = new SlotClaims({ dir, maxSlots: config.maxSlots });
    const warmPool = new SlotPool({ claims, config, size: POOL_SIZE, name: 'bench-warm' });
    const coldPool = new SlotPool({ claims, config, size: 0, name: 'bench-cold' });
    const warm: number[] = [];
    const cold: number[] = [];
    const deadline = Date.now() + TAKE_BUDGET_MS;
    try {
      await warmPool.start();
      for (let i = 0; i < TAKE_SAMPLES; i++) {
        if (interrupted() || Date.now() > deadline) {
          notes.push(`takes stopped after ${warm.length} of ${TAKE_SAMPLES} (time budget)`);
          break;
        }
        for (const [pool, samples, owner] of [
          [warmPool, warm, `bench-warm-${i}`],
          [coldPool, cold, `bench-cold-${i}`],
        ] as const) {
          await warmPool.waitUntilWarm(30_000);
          let slot = 0;
          samples.push(await timeMs(async () => ({ slot } = await pool.take(owner))));
          await pool.release(slot, owner);
        }
      }
      notes.push(
        `warm pool of ${POOL_SIZE}: ${warmPool.stats().warmTakes} warm takes, ${coldPool.stats().coldTakes} cold`,
      );
    } finally {
      await warmPool.drain();
      for (const [slot, record] of await claims.list()) {
        await removeNetwork(slot, config);
        await claims.release(slot, record.owner);
      }
    }
    return [
      { label: WARM, ...summarize(warm) },
      { label: COLD, ...summarize(cold) },
    ];
  });
}
