import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { poolOwner, SlotClaims } from '../../src/network/slot-claims.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

const CHILD = fileURLToPath(new URL('../support/claim-slots-child.ts', import.meta.url));

// Runs two `node` children that claim `count` slots each at the same moment.
async function claimInTwoProcesses(dir: string, count: number): Promise<number[][]> {
  const children = ['proc-a', 'proc-b'].map((owner) =>
    spawn(process.execPath, [CHILD, dir, owner, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  try {
    const outputs = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    for (const lines of outputs) expect((await lines.next()).value).toBe('ready');
    for (const child of children) child.stdin.write('go\n');
    const results = await Promise.all(outputs.map(async (lines) => (await lines.next()).value as string));
    return results.map((text) => JSON.parse(text) as number[]);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

describe('SlotClaims', () => {
  let temp: TempDir;
  let dir: string;

  beforeEach(async () => {
    temp = await makeTempDir('hangar-claims-');
    dir = join(temp.path, 'slots');
  });
  afterEach(async () => {
    await temp.remove();
  });

  it('removes at once the temp file of a claimant that died between temp and link, and keeps a live one', async () => {
    const claims = new SlotClaims({ dir, maxSlots: 4 });
    await claims.claim('a');
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    await writeFile(join(dir, `.claim-${dead.pid}-0123456789ab.tmp`), '{"owner":"b"');
    await writeFile(join(dir, `.claim-${process.pid}-0123456789ab.tmp`), '{"owner":"c"');
    expect([...(await claims.list()).values()].map((claim) => claim.owner)).toEqual(['a']);
    expect((await readdir(dir)).sort()).toEqual([`.claim-${process.pid}-0123456789ab.tmp`, '1.claim']);
  });

  it('gives 200 concurrent claims in one process 200 distinct slots, lowest first', async () => {
    // Two instances over one directory, so the exclusive create is what keeps them apart.
    const a = new SlotClaims({ dir });
    const b = new SlotClaims({ dir });
    const slots = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).claim(`sb-${i}`)),
    );
    expect(new Set(slots).size).toBe(200);
    expect([...slots].sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const listed = await a.list();
    expect(listed.size).toBe(200);
    for (const [i, slot] of slots.entries()) expect(listed.get(slot)?.owner).toBe(`sb-${i}`);
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('never gives two OS processes the same slot', async () => {
    const [a, b] = await claimInTwoProcesses(dir, 50);
    expect(a).toHaveLength(50);
    expect(b).toHaveLength(50);
    expect(new Set([...(a ?? []), ...(b ?? [])]).size).toBe(100);
    const listed = await new SlotClaims({ dir }).list();
    for (const slot of a ?? []) expect(listed.get(slot)?.owner).toBe('proc-a');
    for (const slot of b ?? []) expect(listed.get(slot)?.owner).toBe('proc-b');
  }, 60_000);

  it('frees a released slot for reuse', async () => {
    const claims = new SlotClaims({ dir });
    expect(await claims.claim('one')).toBe(1);
    expect(await claims.claim('two')).toBe(2);
    await claims.release(1, 'one');
    expect(await claims.ownerOf(1)).toBeUndefined();
    expect(await claims.claim('three')).toBe(1);
    await claims.release(7); // absent: fine
    await claims.release(7, 'nobody');
  });

  it('keeps claims across a new instance (a worker restart)', async () => {
    const before = new SlotClaims({ dir });
    await before.claim('kept');
    await before.claim(poolOwner());
    const after = new SlotClaims({ dir });
    const listed = await after.list();
    expect([...listed].map(([slot, record]) => [slot, record.owner])).toEqual([
      [1, 'kept'],
      [2, 'pool:default'],
    ]);
    expect(listed.get(1)?.pid).toBe(process.pid);
    expect(await after.claim('next')).toBe(3);
  });

  it('honours a preferred slot when it is free', async () => {
    const claims = new SlotClaims({ dir });
    expect(await claims.claim('a', { prefer: 5 })).toBe(5);
    expect(await claims.claim('b', { prefer: 5 })).toBe(1);
  });

  it('throws E_CAPACITY when every slot is taken', async () => {
    const claims = new SlotClaims({ dir, maxSlots: 3 });
    const slots = await Promise.all([claims.claim('a'), claims.claim('b'), claims.claim('c')]);
    expect([...slots].sort()).toEqual([1, 2, 3]);
    await expect(claims.claim('d')).rejects.toMatchObject({ code: ErrorCode.Capacity });
    await claims.release(slots[1]!, 'b');
    expect(await claims.claim('d')).toBe(slots[1]);
  });

  it('claims a specific slot once, idempotently for the same owner', async () => {
    const claims = new SlotClaims({ dir });
    await claims.claimSpecific(42, 'restored');
    await claims.claimSpecific(42, 'restored');
    expect(await claims.ownerOf(42)).toBe('restored');
    await expect(claims.claimSpecific(42, 'other')).rejects.toMatchObject({ code: ErrorCode.IllegalState });
    await expect(claims.claimSpecific(1000, 'x')).rejects.toMatchObject({ code: ErrorCode.Validation });
  });

  it('transfers only from the holder, and releases only for the holder', async () => {
    const claims = new SlotClaims({ dir });
    const slot = await claims.claim(poolOwner());
    await expect(claims.transfer(slot, 'not-holder', 'sb-1')).rejects.toMatchObject({
      code: ErrorCode.IllegalState,
    });
    await claims.transfer(slot, poolOwner(), 'sb-1');
    const record = (await claims.list()).get(slot);
    expect(record?.owner).toBe('sb-1');
    expect(record?.transferredAt).toBeDefined();
    await expect(claims.transfer(slot, poolOwner(), 'sb-2')).rejects.toMatchObject({
      code: ErrorCode.IllegalState,
    });
    await expect(claims.release(slot, poolOwner())).rejects.toMatchObject({ code: ErrorCode.IllegalState });
    expect(await claims.ownerOf(slot)).toBe('sb-1');
    await claims.release(slot, 'sb-1');
    expect(await claims.ownerOf(slot)).toBeUndefined();
    await expect(claims.transfer(slot, 'sb-1', 'sb-2')).rejects.toMatchObject({
      code: ErrorCode.IllegalState,
    });
  });

  it('rejects owners that are not identifiers or pool:<name>', async () => {
    const claims = new SlotClaims({ dir });
    for (const owner of ['', 'Bad', '../x', 'a b', 'pool:', 'other:x']) {
      await expect(claims.claim(owner)).rejects.toMatchObject({ code: ErrorCode.Validation });
    }
  });

  it('reports a corrupt claim without crashing, and keeps its slot taken', async () => {
    const claims = new SlotClaims({ dir });
    await claims.claim('good');
    await writeFile(join(dir, '2.claim'), '{"owner":');
    await writeFile(join(dir, '3.claim'), JSON.stringify({ owner: 'x', pid: 'no' }));
    const { claims: valid, corrupt } = await claims.scan();
    expect([...valid.keys()]).toEqual([1]);
    expect(corrupt.map((c) => c.slot)).toEqual([2, 3]);
    expect(await claims.claim('next')).toBe(4);
    expect(await claims.ownerOf(2)).toBeUndefined();
    await expect(claims.release(2, 'good')).rejects.toMatchObject({ code: ErrorCode.IllegalState });
    await claims.release(2);
    expect(await claims.claim('again')).toBe(2);
  });
});
