import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { defaultRunner } from '../../src/exec/command-runner.ts';
import { listNetns } from '../../src/network/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { useKillableWorker } from '../support/killable-worker.ts';

const identity = { prefix: 'hgwr', octet: 160 };

// The worker runs in its own process so it can be SIGKILLed mid-snapshot; the VMM is the simulator.
describe('a worker killed mid-job and restarted [CH simulator stand-in]', () => {
  const host = useKillableWorker({
    identity,
    vmm: 'simulator',
    vmmEnv: { HANGAR_SIM_LATENCY: 'snapshot=2500' },
  });
  const startWorker = () => host.startWorker();

  it('finishes the job on retry after a restart, re-attaching the running VM, and leaves nothing behind', async () => {
    const { child: first } = await startWorker();
    const id = String(
      (await (await host.client.create({ template: 'base', vcpus: 1, memoryMib: 256 })).result()).sandboxId,
    );
    const snapshot = await host.client.snapshot(id, { snapshotId: 'snap-restart' });
    // Wait until the snapshot is under way (the simulator takes 2.5 s), then kill the worker.
    for (
      let i = 0;
      i < 100 &&
      (await internalsOf(host.client).submitter.queueFor('hk').getJobState(snapshot.jobId)) !== 'active';
      i += 1
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    first.kill('SIGKILL');
    await first;

    await startWorker();
    const result = await snapshot.result(60_000);
    expect(result).toMatchObject({ snapshotId: 'snap-restart' });
    expect((await host.client.get(id))?.state).toBe('running');
    // Started twice: once on the killed worker, once after the restart.
    expect(
      (await internalsOf(host.client).store.getOutcome('hk', snapshot.jobId))?.starts,
    ).toBeGreaterThanOrEqual(2);

    await (await host.client.destroy(id)).result();
    expect((await listNetns(defaultRunner)).filter((name) => name.startsWith('hgwr0-'))).toEqual([]);
    const snapshotEntries = await readdir(join(host.dir, 'state', 'snapshots', 'snap-restart'));
    expect(snapshotEntries.some((name) => name.endsWith('.partial'))).toBe(false);
    const { stdout } = await execa('pgrep', ['-f', join(host.dir, 'state', 'run')], { reject: false });
    expect(stdout.trim()).toBe('');
  }, 90_000);
});
