import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { startTestFleet, TEST_REDIS_URL, type TestFleet } from '../support/fleet.ts';
import { finishedJob } from '../support/jobs.ts';

// Host a1 has room for exactly 4 sandboxes of 1 vCPU / 256 MiB; a2 is tiny (2 vCPU, 1 GiB).
describe('admission: capacity reserved at enqueue and checked by the worker [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['a1'],
      network: { prefix: 'hgad', octet: 230 },
      worker: { concurrency: 8, poolSize: 0, capacity: { vcpus: 4, memoryMib: 1024 } },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('never overfills a host under concurrent producers, and gives the room back on destroy', async () => {
    const other = await HangarClient.connect({ redisUrl: TEST_REDIS_URL, keyPrefix: fleet.keyPrefix });
    try {
      const input = { template: 'base', vcpus: 1, memoryMib: 256 };
      const attempts = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? fleet.client : other).create(input)),
      );
      const admitted = attempts.filter((a) => a.status === 'fulfilled');
      const refused = attempts.filter((a) => a.status === 'rejected');
      expect(admitted).toHaveLength(4);
      expect(refused).toHaveLength(6);
      for (const refusal of refused) {
        expect(refusal.reason).toMatchObject({ code: ErrorCode.Capacity });
        expect(String(refusal.reason.message)).toContain('a1 has 0 vCPU');
      }
      const ids = await Promise.all(admitted.map(async (a) => String((await a.value.result()).sandboxId)));
      expect((await internalsOf(fleet.client).store.hosts.reservations('a1')).vcpus).toBe(4);

      await (await fleet.client.destroy(ids[0]!)).result();
      expect(await internalsOf(fleet.client).store.hosts.reservations('a1')).toMatchObject({
        vcpus: 3,
        memoryMib: 768,
        slots: 3,
      });
      const again = await (await other.create(input)).result();
      for (const id of [...ids.slice(1), String(again.sandboxId)])
        await (await fleet.client.destroy(id)).result();
      expect(await internalsOf(fleet.client).store.hosts.reservations('a1')).toMatchObject({
        vcpus: 0,
        memoryMib: 0,
        slots: 0,
      });
    } finally {
      await other.close();
    }
  });

  it('refuses a create whose job reached the worker anyway when the host has no room, naming asked and free, and builds nothing', async () => {
    const { client } = fleet;
    const worker = fleet.workers[0]!;
    // Bypass the producer's admission: the job is added as a racing or foreign producer would.
    const { data, ref } = await internalsOf(client).submitter.numbered('a1', {
      op: 'create',
      sandboxId: 'huge-1',
      template: 'base',
      vcpus: 32,
      memoryMib: 65_536,
      labels: {},
    });
    await internalsOf(client).submitter.queueFor('a1').add('create', data, { jobId: ref.jobId });
    const failure = client.handle(ref).result(20_000);
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.Capacity });
    await expect(failure).rejects.toThrow(/asked 32 vCPU \/ 65536 MiB \/ 1 slot, free 4 vCPU \/ 1024 MiB/);
    expect((await finishedJob(internalsOf(client).submitter.queueFor('a1'), ref.jobId)).attemptsStarted).toBe(
      1,
    );
    expect(worker.ctx.ledger.get('huge-1')).toBeUndefined();
    expect([...(await worker.ctx.claims.list()).values()].some((claim) => claim.owner === 'huge-1')).toBe(
      false,
    );
    // Refused before anything was built: no record either.
    expect(await client.get('huge-1')).toBeUndefined();
  });

  it('refuses a create when the state dir would fall below its disk reserve', async () => {
    const worker = await fleet.startWorker('a2', {
      capacity: { vcpus: 2, memoryMib: 1024 },
      diskReserveMib: 1_000_000_000,
      network: { prefix: 'hgad2', vethRange: '10.232.0.0/16', hostRange: '10.233.0.0/16', maxSlots: 8 },
    });
    const { client } = fleet;
    const { data, ref } = await internalsOf(client).submitter.numbered('a2', {
      op: 'create',
      sandboxId: 'disk-1',
      template: 'base',
      vcpus: 1,
      memoryMib: 128,
      labels: {},
    });
    await internalsOf(client).submitter.queueFor('a2').add('create', data, { jobId: ref.jobId });
    await expect(client.handle(ref).result(20_000)).rejects.toMatchObject({
      code: ErrorCode.Capacity,
      message: expect.stringMatching(/no disk room for sandbox disk-1: asked \d+ MiB, \d+ MiB free/),
    });
    expect(worker.ctx.ledger.get('disk-1')).toBeUndefined();
  });
});
