import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { type CommandRunner, defaultRunner } from '../../src/exec/command-runner.ts';
import {
  ensureHostNetwork,
  parseNetworkConfig,
  removeHostNetwork,
  removeNetwork,
  sweepNetwork,
} from '../../src/network/index.ts';
import { SlotClaims } from '../../src/network/slot-claims.ts';
import { SlotPool } from '../../src/network/slot-pool.ts';
import { linksWithPrefix, namespacesWithPrefix } from '../support/network-objects.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

// Own prefix and ranges: other network test files run in parallel on the same host.
const PREFIX = 'hgtp';
const config = parseNetworkConfig({ prefix: PREFIX, vethRange: '10.222.0.0/16', hostRange: '10.221.0.0/16' });

// Pool slots (owner pool:<name>) among the claims.
async function poolSlots(claims: SlotClaims, pool: SlotPool): Promise<number[]> {
  return [...(await claims.list())].filter(([, record]) => record.owner === pool.owner).map(([slot]) => slot);
}

describe('SlotPool (real namespaces, veths and nftables)', () => {
  let temp: TempDir;
  let claims: SlotClaims;
  const pools: SlotPool[] = [];
  const newPool = (extra: { runner?: CommandRunner; logger?: pino.Logger; retryDelayMs?: number } = {}) => {
    const pool = new SlotPool({ claims, config, size: 3, ...extra });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    temp = await makeTempDir('hangar-pool-');
    claims = new SlotClaims({ dir: temp.path, maxSlots: config.maxSlots });
    await sweepNetwork(config, new Set());
    await ensureHostNetwork(config);
  }, 60_000);

  // Everything goes, whatever failed: pool slots, handed-out slots, leftovers, the host table.
  afterAll(async () => {
    const attempt = (what: Promise<unknown>) => what.catch((error: unknown) => console.error(error));
    for (const pool of pools) await attempt(pool.drain());
    for (const slot of (await claims.list()).keys()) {
      await attempt(removeNetwork(slot, config).then(() => claims.release(slot)));
    }
    await attempt(sweepNetwork(config, new Set()));
    await attempt(removeHostNetwork(config));
    await temp.remove();
    expect(await namespacesWithPrefix(PREFIX)).toEqual([]);
    expect(await linksWithPrefix(PREFIX)).toEqual([]);
  }, 120_000);

  let pool: SlotPool;

  it('builds 3 warm namespaces on start', async () => {
    pool = newPool();
    await pool.start();
    await pool.waitUntilWarm(60_000);
    expect(pool.stats()).toMatchObject({ warm: 3, building: 0, pending: 0 });
    const slots = await poolSlots(claims, pool);
    expect(slots).toHaveLength(3);
    expect(await namespacesWithPrefix(PREFIX)).toEqual(slots.map((slot) => `${PREFIX}-ns-${slot}`).sort());
  }, 60_000);

  it('hands out a warm slot at once and refills back to 3', async () => {
    const before = await poolSlots(claims, pool);
    const layout = await pool.take('sb-warm');
    expect(before).toContain(layout.slot);
    expect(await claims.ownerOf(layout.slot)).toBe('sb-warm');
    expect(await namespacesWithPrefix(PREFIX)).toContain(layout.netns);
    expect(pool.stats().warmTakes).toBe(1);
    await pool.waitUntilWarm(60_000);
    expect(await poolSlots(claims, pool)).toHaveLength(3);
    expect(await namespacesWithPrefix(PREFIX)).toHaveLength(4);
  }, 60_000);

  it('builds on the spot when takes outrun the pool (cold takes)', async () => {
    const layouts = await Promise.all(['sb-a', 'sb-b', 'sb-c', 'sb-d', 'sb-e'].map((id) => pool.take(id)));
    expect(new Set(layouts.map((layout) => layout.slot)).size).toBe(5);
    expect(pool.stats()).toMatchObject({ warmTakes: 4, coldTakes: 2 });
    const namespaces = await namespacesWithPrefix(PREFIX);
    for (const layout of layouts) expect(namespaces).toContain(layout.netns);
    await pool.waitUntilWarm(60_000);
  }, 60_000);

  it('removes the namespace on release, and only for the holder', async () => {
    const handedOut = [...(await claims.list())].filter(([, record]) => record.owner.startsWith('sb-'));
    expect(handedOut).toHaveLength(6);
    const [first] = handedOut;
    await expect(pool.release(first![0], 'someone-else')).rejects.toMatchObject({
      code: ErrorCode.IllegalState,
    });
    for (const [slot, record] of handedOut) await pool.release(slot, record.owner);
    expect(await namespacesWithPrefix(PREFIX)).toHaveLength(3);
    expect((await claims.list()).size).toBe(3);
    await pool.release(first![0], first![1].owner); // already released: a no-op
  }, 60_000);

  it('adopts its claimed slots after a restart instead of leaking them', async () => {
    await pool.stop();
    const before = (await poolSlots(claims, pool)).sort();
    // A crash mid-build: one adopted slot's network is gone and must be rebuilt.
    await removeNetwork(before[0]!, config);
    pool = newPool();
    await pool.start();
    await pool.waitUntilWarm(60_000);
    expect((await poolSlots(claims, pool)).sort()).toEqual(before);
    expect((await claims.list()).size).toBe(3);
    expect(await namespacesWithPrefix(PREFIX)).toEqual(before.map((slot) => `${PREFIX}-ns-${slot}`).sort());
  }, 60_000);

  it('logs background build failures and retries them [failing CommandRunner stand-in]', async () => {
    await pool.drain();
    expect(await namespacesWithPrefix(PREFIX)).toEqual([]);
    let failuresLeft = 2;
    const flaky: CommandRunner = {
      run(file, args, options) {
        if (failuresLeft > 0) {
          failuresLeft--;
          return Promise.reject(new Error('injected failure'));
        }
        return defaultRunner.run(file, args, options);
      },
    };
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    pool = newPool({ runner: flaky, logger: pino({ level: 'error' }, sink), retryDelayMs: 50 });
    await pool.start();
    await pool.waitUntilWarm(60_000);
    expect(lines.some((line) => line.includes('slot pool refill failed'))).toBe(true);
    expect(await namespacesWithPrefix(PREFIX)).toHaveLength(3);
    await pool.drain();
    expect(await namespacesWithPrefix(PREFIX)).toEqual([]);
    expect((await claims.list()).size).toBe(0);
  }, 60_000);
});
