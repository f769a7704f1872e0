import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { recordEvents } from '../support/event-recorder.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// Every VMM on this host answers its first vm.pause with a 500 (a transient fault) and takes
// 150 ms per pause/resume, so overlapping or reordered jobs would show.
describe('per-sandbox ordering and transient retries [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['h1'],
      network: { prefix: 'hgor', octet: 154 },
      worker: {
        concurrency: 8,
        vmmEnv: { HANGAR_SIM_FAULT: 'fail-once-at=vm.pause', HANGAR_SIM_LATENCY: 'pause=150,resume=150' },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('retries a transient VMM failure to success, saying so in a job.failed event with willRetry', async () => {
    const { client } = fleet;
    const events = await recordEvents(client);
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 256 })).result()).sandboxId,
    );
    const pause = await client.pause(id);
    expect(await pause.result()).toMatchObject({ state: 'paused' });
    expect((await internalsOf(fleet.client).store.getOutcome('h1', pause.jobId))?.starts).toBe(2);
    // The failure comes before the completion in the stream, which the outbox fills a moment after the result.
    await events.next(
      "the pause's completion",
      (event) => event.type === 'job.completed' && event.jobId === pause.jobId,
    );
    await events.stop();
    const failures = events.seen.filter(
      (event) => event.type === 'job.failed' && event.jobId === pause.jobId,
    );
    expect(failures).toMatchObject([{ willRetry: true, error: { code: 'E_VMM_API' } }]);
    await (await client.destroy(id)).result();
  });

  it('runs one sandbox jobs one at a time in enqueue order, even across a retry', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 256 })).result()).sandboxId,
    );
    // Enqueued back to back; the first pause fails once and is retried while the rest wait.
    const handles = [];
    for (const op of ['pause', 'resume', 'pause', 'resume', 'pause'] as const) {
      handles.push(op === 'pause' ? await client.pause(id) : await client.resume(id));
    }
    const results = await Promise.all(handles.map((handle) => handle.result()));
    expect(results.map((result) => result.state)).toEqual([
      'paused',
      'running',
      'paused',
      'running',
      'paused',
    ]);
    for (let index = 1; index < results.length; index += 1) {
      // Each operation started only after the previous one finished (the worker's own clock).
      expect(Date.parse(String(results[index]!.startedAt))).toBeGreaterThanOrEqual(
        Date.parse(String(results[index - 1]!.finishedAt)),
      );
    }
    expect((await client.get(id))?.state).toBe('paused');
    await (await client.destroy(id)).result();
  });

  it('runs different sandboxes in parallel', async () => {
    const { client } = fleet;
    const created = await Promise.all(
      [1, 2, 3].map(async () =>
        (await client.create({ template: 'base', vcpus: 1, memoryMib: 256 })).result(),
      ),
    );
    const ids = created.map((result) => String(result.sandboxId));
    // Get past each VMM's one injected pause failure first.
    await Promise.all(ids.map(async (id) => (await client.pause(id)).result()));
    const resumes = await Promise.all(ids.map((id) => client.resume(id)));
    const done = await Promise.all(resumes.map((handle) => handle.result()));
    const firstFinish = Math.min(...done.map((result) => Date.parse(String(result.finishedAt))));
    const lastStart = Math.max(...done.map((result) => Date.parse(String(result.startedAt))));
    expect(lastStart).toBeLessThan(firstFinish);
    await Promise.all(ids.map(async (id) => (await client.destroy(id)).result()));
  });
});
