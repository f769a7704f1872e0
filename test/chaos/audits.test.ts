import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { censusStateDir } from '../../scripts/chaos/census-files.ts';
import { compareIds, findDoubleEffects } from '../../scripts/chaos/double-effects.ts';
import { JobTracker } from '../../scripts/chaos/job-tracker.ts';
import { Prng } from '../../scripts/chaos/prng.ts';
import { recoveryAfter } from '../../scripts/chaos/recovery.ts';
import type { HangarEvent, JobHandle, PositionedEvent } from '../../src/producer/index.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

const at = '2026-01-01T00:00:00.000Z';
let n = 0;
const positioned = (event: Omit<HangarEvent, 'at'>): PositionedEvent => ({
  position: `1000-${n++}`,
  event: { at, ...event } as HangarEvent,
});
const state = (sandboxId: string, to: string, previous?: string) =>
  positioned({ type: 'sandbox.state', sandboxId, state: to, ...(previous ? { previous } : {}) } as never);
const completed = (jobId: string, op: string, sandboxId: string, result: Record<string, unknown>) =>
  positioned({ type: 'job.completed', jobId, op, sandboxId, result } as never);

// A handle whose result() answers at once, as a worker's outcome record would.
function handle(jobId: string, op: string, sandboxId: string, result: Record<string, unknown>): JobHandle {
  return { jobId, op, sandboxId, hostId: 'h', result: async () => result } as unknown as JobHandle;
}

describe('the double-effect audit', () => {
  const lifecycle = [
    state('s1', 'creating'),
    state('s1', 'running', 'creating'),
    completed('create-s1-1', 'create', 's1', { outcome: 'done' }),
    state('s1', 'snapshotting', 'running'),
    state('s1', 'running', 'snapshotting'),
    completed('snapshot-s1-2', 'snapshot', 's1', { outcome: 'done', snapshotId: 'n1' }),
    // A redelivered snapshot that finds its manifest answers 'already': not a second effect.
    completed('snapshot-s1-3', 'snapshot', 's1', { outcome: 'already', snapshotId: 'n1' }),
    state('s1', 'destroying', 'running'),
    state('s1', 'destroyed', 'destroying'),
  ];

  it('finds nothing in a clean lifecycle, even with a completion announced again', () => {
    const again = lifecycle[5]!;
    const redelivered = [...lifecycle.slice(0, 8), { ...again, position: '1000-900' }, ...lifecycle.slice(8)];
    const found = findDoubleEffects(redelivered, new JobTracker({ resultTimeoutMs: 1_000 }), [], []);
    expect(found).toMatchObject({ total: 0, reannounced: 1 });
  });

  it('counts one job that wrote its snapshot twice', () => {
    const twice = completed('snapshot-s1-2', 'snapshot', 's1', { outcome: 'done', snapshotId: 'n1' });
    const later = { ...twice, event: { ...twice.event, at: '2026-01-01T00:00:09.000Z' } };
    const found = findDoubleEffects(
      [...lifecycle, later],
      new JobTracker({ resultTimeoutMs: 1_000 }),
      [],
      [],
    );
    expect(found.snapshotTwice).toEqual([
      { snapshotId: 'n1', jobIds: ['snapshot-s1-2', 'snapshot-s1-2'], from: 'events' },
    ]);
  });

  it('finds a snapshot written twice, a sandbox created twice and one back after destroyed', () => {
    const events = [
      ...lifecycle,
      completed('snapshot-s2-2', 'snapshot', 's2', { outcome: 'done', snapshotId: 'n1' }),
      state('s3', 'creating'),
      state('s3', 'running', 'creating'),
      state('s3', 'creating', 'running'),
      state('s3', 'running', 'creating'),
      state('s1', 'destroyed'),
      state('s1', 'running', 'destroyed'),
    ];
    const found = findDoubleEffects(events, new JobTracker({ resultTimeoutMs: 1_000 }), [], []);
    expect(found.snapshotTwice).toEqual([
      { snapshotId: 'n1', jobIds: ['snapshot-s1-2', 'snapshot-s2-2'], from: 'events' },
    ]);
    expect(found.createdTwice).toEqual([{ sandboxId: 's3', arrivals: 2, from: 'events' }]);
    expect(found.destroyedBack.map((back) => back.sandboxId)).toEqual(['s1']);
    expect(found.total).toBe(3);
  });

  it('finds from the answers two jobs that both created one sandbox', async () => {
    const tracker = new JobTracker({ resultTimeoutMs: 1_000 });
    await tracker.track(handle('create-s4-1', 'create', 's4', { outcome: 'done' }), {
      keyed: false,
      redisRetries: 0,
    });
    await tracker.track(handle('create-s4-2', 'create', 's4', { outcome: 'done' }), {
      keyed: false,
      redisRetries: 0,
    });
    const found = findDoubleEffects([], tracker, [], [{ key: 'k1', jobIds: ['a', 'b'] }]);
    expect(found.createdTwice).toEqual([{ sandboxId: 's4', arrivals: 2, from: 'results' }]);
    expect(found.total).toBe(2);
  });

  it('orders stream positions numerically', () => {
    expect(compareIds('1000-10', '1000-9')).toBeGreaterThan(0);
    expect(compareIds('999-10', '1000-0')).toBeLessThan(0);
  });
});

describe('the recovery times', () => {
  it('measure from the restarts after the first and the last kill a job was caught by', () => {
    const job = (issuedAt: number, resolvedAt: number) =>
      ({ jobId: String(issuedAt), issuedAt, resolvedAt, fate: 'completed' }) as never;
    const kills = [
      { kind: 'worker' as const, at: 100, readyAt: 2_000, inFlight: 1 },
      { kind: 'worker' as const, at: 3_000, readyAt: 5_000, inFlight: 1 },
    ];
    const summary = recoveryAfter([job(50, 9_000), job(2_500, 2_900), job(2_500, 6_000)], kills, 'worker');
    expect(summary).toMatchObject({ n: 2, fromFirstKill: { maxMs: 7_000 }, fromLastKill: { maxMs: 4_000 } });
  });
});

describe('the state-dir census', () => {
  let dir: TempDir | undefined;
  afterEach(async () => dir?.remove());

  it('allows the ledger, the template and the pool, and names everything else left', async () => {
    dir = await makeTempDir('hangar-chaos-census-');
    const state = dir.path;
    const claim = (owner: string) => JSON.stringify({ owner, pid: 1, claimedAt: at });
    await mkdir(join(state, 'slots'), { recursive: true });
    await mkdir(join(state, 'demo-template'), { recursive: true });
    await mkdir(join(state, 'cow', 'disks'), { recursive: true });
    await mkdir(join(state, 'run', 's1'), { recursive: true });
    await mkdir(join(state, 'snapshots', 'n1', 'vm'), { recursive: true });
    await mkdir(join(state, 'snapshots', 'n2'), { recursive: true });
    await mkdir(join(state, 'snapshots', 'n3.partial'), { recursive: true });
    await writeFile(
      join(state, 'ledger.json'),
      JSON.stringify({ version: 1, sandboxes: {}, snapshots: ['n1'] }),
    );
    await writeFile(join(state, 'ledger.json.0a1b2c3d.tmp'), '{');
    for (const slot of [1, 2, 3])
      await writeFile(join(state, 'slots', `${slot}.claim`), claim('pool:default'));
    await writeFile(join(state, 'slots', '4.claim'), claim('s9'));
    await writeFile(join(state, 'cow', 'disks', 's9.cow'), '');

    const census = await censusStateDir(state, { hasSnapshot: async (id) => id === 'n1', poolSize: 2 });
    expect(census.poolSlots).toEqual(new Set([1, 2]));
    expect(census.leaks).toEqual({
      runDirs: ['run/s1'],
      diskFiles: ['cow/disks/s9.cow'],
      tmpFiles: ['ledger.json.0a1b2c3d.tmp'],
      claims: ['slots/4.claim (s9)'],
      excessPoolClaims: ['slots/3.claim'],
      partialSnapshots: ['snapshots/n3.partial'],
      orphanSnapshots: ['snapshots/n2'],
      ledgerEntries: [],
    });
    expect(census.unrecognized).toEqual([]);
  });
});

describe('the seeded generator', () => {
  it('repeats its decisions for a seed, and forks independent streams', () => {
    const draws = (prng: Prng) => Array.from({ length: 5 }, () => prng.int(0, 1_000));
    expect(draws(new Prng(42))).toEqual(draws(new Prng(42)));
    expect(draws(new Prng(42).fork('a'))).not.toEqual(draws(new Prng(42).fork('b')));
  });
});
