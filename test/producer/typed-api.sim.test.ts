import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import * as hangar from '../../src/producer/index.ts';
import {
  AbortedError,
  ErrorCode,
  HangarError,
  type SandboxResult,
  type SnapshotResult,
  type StateResult,
  ValidationError,
} from '../../src/producer/index.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// The client's public surface, as a backend sees it, against a real worker.
describe('the typed client API [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['ty1'],
      network: { prefix: 'hgty', octet: 106 },
      worker: { poolSize: 1, vmmEnv: { HANGAR_SIM_LATENCY: 'pause=1500' } },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it("resolves each operation's own result type, checked against its schema", async () => {
    const { client } = fleet;
    const create = await client.create({
      template: 'base',
      vcpus: 1,
      memoryMib: 128,
      labels: { t: 'typed' },
    });
    const created = await create.result();
    expectTypeOf(created).toEqualTypeOf<SandboxResult>();
    expect(created).toMatchObject({
      outcome: 'done',
      sandboxId: create.sandboxId,
      hostId: 'ty1',
      state: 'running',
    });
    expect(created.address).toMatch(/^10\.107\./);
    const snapshot = await (await client.snapshot(created.sandboxId, { snapshotId: 'typed-snap' })).result();
    expectTypeOf(snapshot).toEqualTypeOf<SnapshotResult>();
    expect(snapshot.snapshotId).toBe('typed-snap');
    expect(snapshot.memoryBytes).toBeGreaterThan(0);
    const restored = await (await client.restore('typed-snap', { labels: { t: 'typed' } })).result();
    expect(restored).toMatchObject({ state: 'running', hostId: 'ty1' });
    for (const id of [created.sandboxId, restored.sandboxId]) {
      const destroyed = await (await client.destroy(id)).result();
      expectTypeOf(destroyed).toEqualTypeOf<StateResult>();
      expect(destroyed.state).toBe('destroyed');
    }
  });

  it('a field given as undefined never overrides a generated id', async () => {
    const { client } = fleet;
    const create = await client.create({ template: 'base', vcpus: 1, memoryMib: 128, sandboxId: undefined });
    expect(create.sandboxId).toMatch(/^sb-[0-9a-f]{12}$/);
    const snapshot = await client.snapshot(create.sandboxId, { snapshotId: undefined });
    expect((await snapshot.result()).snapshotId).toMatch(/^snap-[0-9a-f]{12}$/);
    const restore = await client.restore((await snapshot.result()).snapshotId, { sandboxId: undefined });
    expect(restore.sandboxId).toMatch(/^sb-[0-9a-f]{12}$/);
    (await await restore.result()) && (await (await client.destroy(restore.sandboxId)).result());
    await (await client.destroy(create.sandboxId)).result();
  });

  it('refuses fields an operation does not take, naming them, before anything is queued', async () => {
    const { client } = fleet;
    const restore = client.restore('no-such-snap', { template: 'base' } as never);
    await expect(restore).rejects.toBeInstanceOf(ValidationError);
    await expect(restore).rejects.toThrow(/template/);
    await expect(
      client.create({ template: 'base', vcpus: 1, memoryMib: 128, fromSnapshot: 'x' } as never),
    ).rejects.toThrow(/fromSnapshot/);
  });

  it('result() and events() stop when their AbortSignal aborts; the job goes on', async () => {
    const { client } = fleet;
    const created = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
    // The simulator takes 1.5 s per pause: the wait is aborted long before that.
    const pause = await client.pause(created.sandboxId);
    const waiting = new AbortController();
    const aborted = pause.result({ signal: waiting.signal });
    waiting.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    await expect(aborted).rejects.toMatchObject({ code: ErrorCode.Aborted });
    expect((await pause.result()).state).toBe('paused');

    // A blocking read of a minute ends at once on abort, not at its timeout.
    const reading = new AbortController();
    const seen: string[] = [];
    const loop = (async () => {
      for await (const { event } of client.events({ signal: reading.signal, blockMs: 60_000 }))
        seen.push(event.type);
    })();
    reading.abort();
    await loop;
    await (await client.destroy(created.sandboxId)).result();
  });

  it('exports every error class the client throws, each with its stable code', () => {
    const classes = Object.entries(hangar).filter(
      ([, value]) => typeof value === 'function' && value.prototype instanceof HangarError,
    );
    expect(classes.map(([name]) => name).sort()).toEqual(
      [
        'AbortedError',
        'ConflictError',
        'CorruptStateError',
        'HostLostError',
        'IllegalStateError',
        'IncompatibleError',
        'JobFailedError',
        'NoCapacityError',
        'NotFoundError',
        'TimeoutError',
        'TransferError',
        'UnsignedJobError',
        'ValidationError',
      ].sort(),
    );
    expect(Object.keys(hangar)).not.toContain('snapshotBatch');
    expect(new hangar.NoCapacityError('full').code).toBe(ErrorCode.Capacity);
    expect(new hangar.HostLostError('h9').code).toBe(ErrorCode.HostLost);
  });

  it('keeps its internals private', () => {
    const { client } = fleet;
    for (const name of ['store', 'keys', 'queueFor', 'prepareJob', 'abandon']) {
      expect(name in client).toBe(false);
    }
  });
});
