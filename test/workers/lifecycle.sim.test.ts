import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { defaultRunner } from '../../src/exec/command-runner.ts';
import { listNetns } from '../../src/network/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { recordEvents } from '../support/event-recorder.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';
import { finishedJob } from '../support/jobs.ts';

// Real Redis, real netns/veth/nft, real file-CoW disks; Cloud Hypervisor is the simulator.
describe('sandbox lifecycle through the client [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({ hosts: ['h1'], network: { prefix: 'hglc', octet: 150 } });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('creates, pauses, resumes, snapshots, restores and destroys, with records and events to match', async () => {
    const { client } = fleet;
    const events = await recordEvents(client);
    const { seen } = events;

    const created = await (
      await client.create({ template: 'base', vcpus: 1, memoryMib: 256, labels: { team: 'a' } })
    ).result();
    expect(created).toMatchObject({ outcome: 'done', state: 'running' });
    const id = String(created.sandboxId);
    const record = await client.get(id);
    expect(record).toMatchObject({ state: 'running', hostId: 'h1', labels: { team: 'a' } });
    expect(record?.address).toMatch(/^10\.151\./);
    expect(record?.slot).toBeGreaterThan(0);
    expect(await listNetns(defaultRunner)).toContain(`hglc0-ns-${record?.slot}`);

    expect(await (await client.pause(id)).result()).toMatchObject({ outcome: 'done', state: 'paused' });
    expect(await (await client.pause(id)).result()).toMatchObject({ outcome: 'already', state: 'paused' });
    expect(await (await client.resume(id)).result()).toMatchObject({ outcome: 'done', state: 'running' });

    const snap = await (await client.snapshot(id, { snapshotId: 'snap-life' })).result();
    expect(snap).toMatchObject({ outcome: 'done', snapshotId: 'snap-life' });
    expect((await client.get(id))?.state).toBe('running');
    expect(await internalsOf(client).store.getSnapshot('snap-life')).toMatchObject({
      sandboxId: id,
      hostId: 'h1',
    });

    const restored = await (await client.restore('snap-life', { sandboxId: 'restored-1' })).result();
    expect(restored).toMatchObject({ outcome: 'done', state: 'running' });
    const restoredRecord = await client.get('restored-1');
    expect(restoredRecord?.slot).not.toBe(record?.slot);
    expect(restoredRecord?.fromSnapshot).toBe('snap-life');

    for (const sandbox of [id, 'restored-1']) {
      expect(await (await client.destroy(sandbox)).result()).toMatchObject({
        outcome: 'done',
        state: 'destroyed',
      });
    }
    expect((await client.get(id))?.state).toBe('destroyed');
    const again = await client.destroy(id);
    expect(await again.result()).toMatchObject({ outcome: 'already' });

    // Events reach the fleet's stream through the host's outbox, a moment after the results.
    await events.next(
      "the last job's completion",
      (event) => event.type === 'job.completed' && event.jobId === again.jobId,
    );
    await events.stop();
    const states = seen
      .filter((event) => event.type === 'sandbox.state' && event.sandboxId === id)
      .map((event) => (event.type === 'sandbox.state' ? event.state : ''));
    expect(states).toEqual([
      'creating',
      'running',
      'paused',
      'running',
      'snapshotting',
      'running',
      'destroying',
      'destroyed',
    ]);
    expect(seen.filter((event) => event.type === 'job.completed').length).toBeGreaterThanOrEqual(8);
  });

  it('rejects bad input at the client, naming the field, and enqueues nothing', async () => {
    const { client } = fleet;
    const queue = internalsOf(client).submitter.queueFor('h1');
    const queued = () => queue.getJobCountByTypes('waiting', 'delayed', 'active');
    // A result arrives a moment before BullMQ lets go of its job: start from an idle queue.
    await pollUntil(
      'the earlier jobs to leave the queue',
      async () => ((await queued()) === 0 ? true : undefined),
      {
        timeoutMs: 10_000,
        intervalMs: 25,
      },
    );
    await expect(client.create({ template: 'base', vcpus: 0, memoryMib: 256 })).rejects.toMatchObject({
      code: ErrorCode.Validation,
      message: expect.stringContaining('vcpus'),
    });
    await expect(client.create({ template: '../etc', vcpus: 1, memoryMib: 256 })).rejects.toMatchObject({
      code: ErrorCode.Validation,
      message: expect.stringContaining('template'),
    });
    expect(await queued()).toBe(0);
  });

  it('fails a job with a bad payload at once on the worker, without retry', async () => {
    const { client } = fleet;
    const queue = internalsOf(client).submitter.queueFor('h1');
    const job = await queue.add(
      'pause',
      { payload: { op: 'pause', sandboxId: 'x', extra: 1 }, seq: 1, requestedAt: new Date().toISOString() },
      { jobId: 'bad-1', attempts: 5 },
    );
    await expect(
      client.handle({ jobId: job.id!, hostId: 'h1', sandboxId: 'x', op: 'pause' }).result(10_000),
    ).rejects.toMatchObject({
      code: ErrorCode.Validation,
    });
    const failed = await finishedJob(queue, 'bad-1');
    expect(await failed.getState()).toBe('failed');
    expect(failed.attemptsStarted).toBe(1);
  });

  it('rejects illegal transitions without retry: resume of a destroyed sandbox, pause of a creating one', async () => {
    const { client } = fleet;
    const created = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 256 })).result();
    const id = String(created.sandboxId);
    await (await client.destroy(id)).result();
    await expect(client.resume(id)).rejects.toMatchObject({ code: ErrorCode.IllegalState });
    // The worker refuses too, when a job reaches it anyway (a producer that raced the destroy).
    const {
      data,
      ref: { jobId },
    } = await internalsOf(client).submitter.numbered('h1', { op: 'resume', sandboxId: id });
    await internalsOf(client).submitter.queueFor('h1').add('resume', data, { jobId, attempts: 5 });
    await expect(
      client.handle({ jobId, hostId: 'h1', sandboxId: id, op: 'resume' }).result(10_000),
    ).rejects.toMatchObject({
      code: ErrorCode.IllegalState,
    });
    expect((await finishedJob(internalsOf(client).submitter.queueFor('h1'), jobId)).attemptsStarted).toBe(1);
  });

  it('returns the same job and one sandbox for a repeated idempotency key', async () => {
    const { client } = fleet;
    const input = { template: 'base', vcpus: 1, memoryMib: 256 };
    const [first, second] = await Promise.all([
      client.create(input, { idempotencyKey: 'create-once' }),
      client.create(input, { idempotencyKey: 'create-once' }),
    ]);
    expect(second.jobId).toBe(first.jobId);
    const third = await client.create(input, { idempotencyKey: 'create-once' });
    expect(third.jobId).toBe(first.jobId);
    const result = await third.result();
    expect(result.sandboxId).toBe(first.sandboxId);
    const all = await client.list();
    expect(all.filter((record) => record.sandboxId === first.sandboxId)).toHaveLength(1);
    await (await client.destroy(first.sandboxId)).result();
  });
});
