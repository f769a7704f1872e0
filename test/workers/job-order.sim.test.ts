import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { recordEvents } from '../support/event-recorder.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// Every VMM's first vm.boot answers 500 (a transient fault), so every create needs a retry.
describe('job order without timers [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['o1'],
      network: { prefix: 'hgjo', octet: 234 },
      worker: { concurrency: 8, poolSize: 0, vmmEnv: { HANGAR_SIM_FAULT: 'fail-once-at=vm.boot' } },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('a destroy enqueued behind a create whose first attempt failed waits for the retry, and the sandbox stays destroyed', async () => {
    const { client } = fleet;
    const events = await recordEvents(client);
    const { seen } = events;
    const create = await client.create({ template: 'base', vcpus: 1, memoryMib: 128, sandboxId: 'order-1' });
    // The destroy comes once the create's first attempt has failed and its retry is pending.
    await waitFor(() => seen.some((e) => e.type === 'job.failed' && e.jobId === create.jobId && e.willRetry));
    const destroy = await client.destroy('order-1');
    expect(await create.result()).toMatchObject({ state: 'running' });
    expect(await destroy.result()).toMatchObject({ state: 'destroyed' });
    expect((await internalsOf(client).store.getOutcome('o1', create.jobId))?.starts).toBe(2);
    expect((await client.get('order-1'))?.state).toBe('destroyed');
    expect(fleet.workers[0]!.ctx.ledger.get('order-1')).toBeUndefined();
    await waitFor(() => seen.some((e) => e.type === 'job.completed' && e.jobId === destroy.jobId));
    await events.stop();
    const states = seen.flatMap((e) =>
      e.type === 'sandbox.state' && e.sandboxId === 'order-1' ? [e.state] : [],
    );
    expect(states.at(-1)).toBe('destroyed');
    expect(states.indexOf('running')).toBeLessThan(states.indexOf('destroying'));
  });

  it('a sandbox id once destroyed cannot be created again, by the producer or by a job that reaches the worker', async () => {
    const { client } = fleet;
    await (
      await client.create({ template: 'base', vcpus: 1, memoryMib: 128, sandboxId: 'order-2' })
    ).result();
    await (await client.destroy('order-2')).result();
    await expect(
      client.create({ template: 'base', vcpus: 1, memoryMib: 128, sandboxId: 'order-2' }),
    ).rejects.toMatchObject({ code: ErrorCode.Conflict });
    // A create job for that id added behind the producer's back, on a number of its own, fails for good.
    const { data, ref } = await internalsOf(client).submitter.numbered('o1', {
      op: 'pause',
      sandboxId: 'order-2',
    });
    const payload = {
      op: 'create',
      sandboxId: 'order-2',
      template: 'base',
      vcpus: 1,
      memoryMib: 128,
      labels: {},
    };
    await internalsOf(client)
      .submitter.queueFor('o1')
      .add('create', { ...data, payload }, { jobId: ref.jobId });
    await expect(client.handle(ref).result(20_000)).rejects.toMatchObject({ code: ErrorCode.Conflict });
    expect((await client.get('order-2'))?.state).toBe('destroyed');
  });

  it('an add that fails gives its number back, so the next job of the sandbox runs at once', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    // A number taken, then the add failed: the producer gives it back.
    const lost = await internalsOf(client).submitter.numbered('o1', { op: 'pause', sandboxId: id });
    await internalsOf(client).submitter.abandon(lost.ref);
    const pause = await client.pause(id);
    expect(await pause.result(5_000)).toMatchObject({ state: 'paused' });
    expect(await internalsOf(client).store.sequences.watermark('o1', id)).toBe(lost.ref.seq + 1);
    await (await client.destroy(id)).result();
  });

  it('a lost idempotency race leaves no gap: the loser takes no number', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    const racers = await Promise.all(
      Array.from({ length: 6 }, () => client.pause(id, { idempotencyKey: `pause-once-${id}` })),
    );
    expect(new Set(racers.map((handle) => handle.jobId)).size).toBe(1);
    await racers[0]!.result();
    const resume = await client.resume(id);
    expect(await resume.result(5_000)).toMatchObject({ state: 'running' });
    // create (1), pause (2), resume (3): every number finished, none skipped or waiting.
    expect(await internalsOf(client).store.sequences.watermark('o1', id)).toBe(3);
    await (await client.destroy(id)).result();
  });

  it('a job whose place has passed without it never runs: it fails with E_SUPERSEDED', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    const late = await internalsOf(client).submitter.numbered('o1', { op: 'pause', sandboxId: id });
    await internalsOf(client).submitter.abandon(late.ref);
    await (await client.resume(id)).result();
    // The add arrives after all, once its number was given back and a later job ran.
    await internalsOf(client).submitter.queueFor('o1').add('pause', late.data, { jobId: late.ref.jobId });
    await expect(client.handle(late.ref).result(10_000)).rejects.toMatchObject({
      code: ErrorCode.Superseded,
    });
    expect((await client.get(id))?.state).toBe('running');
    await (await client.destroy(id)).result();
  });

  it('ordering never reads the caller-set timestamp, and the worker uses its own backoff', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    // Job 2 is taken but not added yet; job 3 comes back-dated, with a 10-minute backoff asked.
    const second = await internalsOf(client).submitter.numbered('o1', { op: 'pause', sandboxId: id });
    const third = await internalsOf(client).submitter.numbered('o1', { op: 'resume', sandboxId: id });
    await internalsOf(client)
      .submitter.queueFor('o1')
      .add('resume', third.data, {
        jobId: third.ref.jobId,
        timestamp: 1,
        attempts: 1_000,
        backoff: { type: 'fixed', delay: 600_000 },
      });
    await waitFor(
      async () =>
        (await internalsOf(client).submitter.queueFor('o1').getJobState(third.ref.jobId)) === 'delayed',
    );
    expect((await client.get(id))?.state).toBe('running');
    await internalsOf(client).submitter.queueFor('o1').add('pause', second.data, { jobId: second.ref.jobId });
    expect(await client.handle(second.ref).result(10_000)).toMatchObject({ state: 'paused' });
    expect(await client.handle(third.ref).result(10_000)).toMatchObject({ state: 'running' });
    await (await client.destroy(id)).result();
  });

  it('a job whose name is not its payload op is refused and changes nothing', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    const { data, ref } = await internalsOf(client).submitter.numbered('o1', { op: 'pause', sandboxId: id });
    await internalsOf(client).submitter.queueFor('o1').add('destroy', data, { jobId: ref.jobId });
    await expect(client.handle(ref).result(10_000)).rejects.toMatchObject({
      code: ErrorCode.Validation,
      message: expect.stringContaining("name 'destroy' is not its payload's op 'pause'"),
    });
    expect((await client.get(id))?.state).toBe('running');
    // Its number is settled, so the sandbox's next job is not held back by it.
    expect(await (await client.resume(id)).result(10_000)).toMatchObject({ state: 'running' });
    await (await client.destroy(id)).result();
  });
});

function waitFor(check: () => boolean | Promise<boolean>): Promise<true> {
  return pollUntil('the condition', async () => ((await check()) ? true : undefined), { timeoutMs: 10_000 });
}
