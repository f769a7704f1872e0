import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { SlotClaims } from '../../src/network/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { hostPrefix, hostQueueName } from '../../src/queues/names.ts';
import { HostLedger } from '../../src/state/host-ledger.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { TEST_REDIS_URL } from '../support/fleet.ts';
import { useKillableWorker } from '../support/killable-worker.ts';
import { loopsUnder } from '../support/loops.ts';
import { namespacesWithPrefix } from '../support/network-objects.ts';

/** BullMQ's reason for a job that stalled more often than its worker allows. */
const STALL_LIMIT = 'job stalled more than allowable limit';

const identity = { prefix: 'hgq2', octet: 220, halves: true };

async function pids(pattern: string): Promise<string[]> {
  const { stdout } = await execa('pgrep', ['-f', pattern], { reject: false });
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

// Short locks so BullMQ can take a dead worker's job for stalled within a second; every boot
// takes 3 s in the simulator, so a create is long in flight when the worker is killed.
describe('a job BullMQ fails for stalling takes the final-failure path [CH simulator stand-in]', () => {
  const host = useKillableWorker({
    identity,
    vmm: 'simulator',
    vmmEnv: { HANGAR_SIM_LATENCY: 'boot=3000' },
    worker: { hostId: 'hs', lockDurationMs: 1_000, stalledIntervalMs: 500 },
  });

  it('rolls back the create, records E_STALLED, frees its room, and the host goes on', async () => {
    const { client } = host;
    const stateDir = join(host.dir, 'state');
    const runDir = join(stateDir, 'run', 'stall-1');
    const queue = internalsOf(client).submitter.queueFor('hs');
    const { child: first } = await host.startWorker();
    const create = await client.create({ template: 'base', vcpus: 1, memoryMib: 128, sandboxId: 'stall-1' });
    await pollUntil(
      'the VMM of stall-1 to be booting',
      async () =>
        (await readFile(join(runDir, 'vmm.log'), 'utf8').catch(() => '')).includes('API PUT vm.boot')
          ? true
          : undefined,
      { timeoutMs: 20_000, intervalMs: 25 },
    );
    first.kill('SIGKILL');
    await first;
    expect(await queue.getJobState(create.jobId)).toBe('active');

    // BullMQ's own stalled check, from a plain worker that allows no stall, once the lock is gone.
    const jobKey = internalsOf(client).keys.host('hs').bullJob(create.jobId);
    const redis = internalsOf(client).store.redis;
    await pollUntil(
      'the dead worker lock to expire',
      async () => ((await redis.exists(`${jobKey}:lock`)) === 0 ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const checker = new Worker(
      hostQueueName('hs'),
      async () => {
        throw new Error('the stalled checker must never run a hangar job');
      },
      {
        connection,
        prefix: hostPrefix(host.keyPrefix, 'hs'),
        autorun: false,
        maxStalledCount: 0,
        stalledInterval: 200,
        lockDuration: 1_000,
      },
    );
    checker.on('error', () => undefined);
    try {
      await checker.startStalledCheckTimer();
      // BullMQ marks the job for failure and puts it back; the next fetch fails it.
      await pollUntil(
        'BullMQ to give up on the stalled job',
        async () => (await redis.hget(jobKey, 'defa')) ?? undefined,
        {
          timeoutMs: 10_000,
          intervalMs: 50,
        },
      );
      checker.run().catch(() => undefined);
      await pollUntil(
        'the stalled job to be failed',
        async () => ((await queue.getJobState(create.jobId)) === 'failed' ? true : undefined),
        { timeoutMs: 10_000, intervalMs: 50 },
      );
    } finally {
      await checker.close();
      connection.disconnect();
    }
    expect((await queue.getJob(create.jobId))?.failedReason).toBe(STALL_LIMIT);
    // Behind the processor's back: no outcome yet, the ledger still says creating.
    expect(await internalsOf(client).store.getOutcome('hs', create.jobId)).toBeUndefined();
    const ledgerPath = join(stateDir, 'ledger.json');
    expect((await HostLedger.read(ledgerPath)).sandboxes['stall-1']).toMatchObject({
      state: 'creating',
    });

    await host.startWorker();
    await expect(create.result(30_000)).rejects.toMatchObject({ code: ErrorCode.Stalled });
    await expect(create.result(1_000)).rejects.toThrow(STALL_LIMIT);
    expect(await client.get('stall-1')).toMatchObject({ state: 'failed', lastError: { code: 'E_STALLED' } });
    expect((await HostLedger.read(ledgerPath)).sandboxes['stall-1']).toBeUndefined();
    const claims = await new SlotClaims({ dir: join(stateDir, 'slots'), maxSlots: 200 }).list();
    expect([...claims.values()].filter((claim) => claim.owner === 'stall-1')).toEqual([]);
    expect(await namespacesWithPrefix(`${identity.prefix}0`)).toEqual([]);
    expect(await loopsUnder(stateDir)).toEqual([]);
    expect(await pids(runDir)).toEqual([]);
    const room = await internalsOf(client).store.hosts.reservations('hs');
    expect(room.bySandbox['stall-1']).toBeUndefined();
    expect(room).toMatchObject({ vcpus: 0, memoryMib: 0, slots: 0 });

    // The sandbox's order moved on, and the host takes new work as before.
    const next = await client.create({ template: 'base', vcpus: 1, memoryMib: 128, sandboxId: 'stall-2' });
    expect(await next.result(30_000)).toMatchObject({ state: 'running' });
    expect(await (await client.destroy('stall-2')).result()).toMatchObject({ state: 'destroyed' });
    expect(await internalsOf(client).store.hosts.reservations('hs')).toMatchObject({
      vcpus: 0,
      memoryMib: 0,
      slots: 0,
    });
  }, 60_000);
});
