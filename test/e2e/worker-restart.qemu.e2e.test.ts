import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { defaultRunner } from '../../src/exec/command-runner.ts';
import { listNetns } from '../../src/network/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { useKillableWorker } from '../support/killable-worker.ts';
import { qemuAvailable } from './guest-template.ts';

const identity = { prefix: 'hgwq', octet: 198 };
const QEMU = await qemuAvailable();

// The worker runs in its own process so it can be SIGKILLed mid-snapshot; the VMM is real QEMU.
describe.skipIf(!QEMU.ok)(
  `a worker killed mid-snapshot and restarted (QEMU TCG, real kernel)${QEMU.ok ? '' : `: skipped, ${QEMU.reason}`}`,
  () => {
    const host = useKillableWorker({ identity, vmm: 'qemu', guest: true });
    const startWorker = () => host.startWorker();

    it('finishes the job on retry after a restart, re-attaching the running VM, and leaves nothing behind', async () => {
      const { child: first } = await startWorker();
      const id = String(
        (await (await host.client.create({ template: 'guest', vcpus: 1, memoryMib: 1024 })).result(180_000))
          .sandboxId,
      );
      // Freeze QEMU so the snapshot job is certainly in flight (stuck on QMP) when the worker dies.
      const { stdout: qemuPid } = await execa('pgrep', [
        '-f',
        join(host.dir, 'state', 'run', id, 'api.sock'),
      ]);
      const pid = Number(qemuPid.trim().split('\n')[0]);
      process.kill(pid, 'SIGSTOP');
      const snapshot = await host.client.snapshot(id, { snapshotId: 'snap-restart' });
      for (
        let i = 0;
        i < 200 &&
        (await internalsOf(host.client).submitter.queueFor('hk').getJobState(snapshot.jobId)) !== 'active';
        i += 1
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      first.kill('SIGKILL');
      await first;
      process.kill(pid, 'SIGCONT');

      await startWorker();
      const result = await snapshot.result(180_000);
      expect(result).toMatchObject({ snapshotId: 'snap-restart' });
      expect((await host.client.get(id))?.state).toBe('running');
      // Started twice: once on the killed worker, once after the restart.
      expect(
        (await internalsOf(host.client).store.getOutcome('hk', snapshot.jobId))?.starts,
      ).toBeGreaterThanOrEqual(2);

      await (await host.client.destroy(id)).result();
      expect((await listNetns(defaultRunner)).filter((name) => name.startsWith('hgwq0-'))).toEqual([]);
      const snapshotEntries = await readdir(join(host.dir, 'state', 'snapshots', 'snap-restart'));
      expect(snapshotEntries.some((name) => name.endsWith('.partial'))).toBe(false);
      const { stdout } = await execa('pgrep', ['-f', join(host.dir, 'state', 'run')], { reject: false });
      expect(stdout.trim()).toBe('');
      const { stdout: loops } = await execa('losetup', ['-l', '-n'], { reject: false });
      expect(loops.split('\n').filter((line) => line.includes(host.dir))).toEqual([]);
    }, 300_000);
  },
);
