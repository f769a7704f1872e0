import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// Every VMM's first vm.resume answers 500: a snapshot's last steps fail once after its manifest is written.
describe('snapshots: ensures past the manifest, ids owned by one sandbox, private files [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['s1'],
      network: { prefix: 'hgsr', octet: 242 },
      worker: { concurrency: 4, poolSize: 0, vmmEnv: { HANGAR_SIM_FAULT: 'fail-once-at=vm.resume' } },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('a retry after the manifest was written still resumes the sandbox and records the snapshot', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    const snapshot = await client.snapshot(id, { snapshotId: 'snap-rules-1' });
    expect(await snapshot.result()).toMatchObject({ outcome: 'done', snapshotId: 'snap-rules-1' });
    expect((await internalsOf(client).store.getOutcome('s1', snapshot.jobId))?.starts).toBe(2);
    expect((await client.get(id))?.state).toBe('running');
    expect(await internalsOf(client).store.getSnapshot('snap-rules-1')).toMatchObject({ sandboxId: id });
    // The sandbox answers pause and resume again (it was not left in `snapshotting`).
    expect(await (await client.pause(id)).result()).toMatchObject({ state: 'paused' });
    expect(await (await client.resume(id)).result()).toMatchObject({ state: 'running' });
    await (await client.destroy(id)).result();
  });

  it('a snapshot id that belongs to another sandbox is a conflict, not "already"', async () => {
    const { client } = fleet;
    const [a, b] = await Promise.all(
      [0, 1].map(async () =>
        String(
          (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
        ),
      ),
    );
    await (await client.snapshot(a!, { snapshotId: 'snap-rules-2' })).result();
    await expect((await client.snapshot(b!, { snapshotId: 'snap-rules-2' })).result()).rejects.toMatchObject({
      code: ErrorCode.Conflict,
      message: expect.stringContaining(`belongs to sandbox ${a}`),
    });
    expect(await internalsOf(client).store.getSnapshot('snap-rules-2')).toMatchObject({ sandboxId: a });
    expect((await client.get(b!))?.state).toBe('running');
    for (const id of [a!, b!]) await (await client.destroy(id)).result();
  });

  it('writes snapshot files 0600 in 0700 directories', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    await (await client.snapshot(id, { snapshotId: 'snap-rules-3' })).result();
    const dir = fleet.workers[0]!.ctx.paths.snapshotDir('snap-rules-3');
    const modes = await modesUnder(dir);
    expect(modes.length).toBeGreaterThan(3);
    for (const [path, mode, isDir] of modes) expect([path, mode]).toEqual([path, isDir ? 0o700 : 0o600]);
    await (await client.destroy(id)).result();
  });
});

async function modesUnder(dir: string): Promise<[string, number, boolean][]> {
  const found: [string, number, boolean][] = [[dir, (await stat(dir)).mode & 0o777, true]];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await modesUnder(path)));
    else found.push([path, (await stat(path)).mode & 0o777, false]);
  }
  return found;
}
