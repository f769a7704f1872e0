import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerConfigInput } from '../../src/config/worker-config.ts';
import { defaultRunner } from '../../src/exec/command-runner.ts';
import { listNetns, parseNetworkConfig, removeHostNetwork, sweepNetwork } from '../../src/network/index.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { deleteKeys, hostNetwork, TEST_REDIS_URL } from '../support/fleet.ts';
import { finishedJob } from '../support/jobs.ts';
import { detachLoopsUnder } from '../support/loops.ts';
import { spawnWorker } from '../support/spawn-worker.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';
import { qemuAvailable } from './guest-template.ts';

const identity = { prefix: 'hgwq', octet: 198 };
const QEMU = await qemuAvailable();

// The worker runs in its own process so it can be SIGKILLed mid-snapshot; the VMM is real QEMU.
describe.skipIf(!QEMU.ok)(
  `a worker killed mid-snapshot and restarted (QEMU TCG, real kernel)${QEMU.ok ? '' : `: skipped, ${QEMU.reason}`}`,
  () => {
    let dir: TempDir;
    let client: HangarClient;
    const keyPrefix = `hangar-test-wq-${process.pid}`;
    const children: ResultPromise[] = [];

    function startWorker(): Promise<{ child: ResultPromise }> {
      const config = {
        hostId: 'hk',
        redisUrl: TEST_REDIS_URL,
        keyPrefix,
        stateDir: join(dir.path, 'state'),
        vmm: 'qemu',
        disk: 'file',
        poolSize: 0,
        heartbeatMs: 300,
        lockDurationMs: 1_500,
        stalledIntervalMs: 700,
        network: hostNetwork(identity, 0),
      };
      const started = spawnWorker(config as WorkerConfigInput, join(dir.path, 'templates'), { guest: true });
      void started.then(({ child }) => children.push(child));
      return started;
    }

    beforeAll(async () => {
      dir = await makeTempDir('hangar-restart-');
      client = await HangarClient.connect({ redisUrl: TEST_REDIS_URL, keyPrefix });
    });

    afterAll(async () => {
      await client?.close();
      for (const child of children) child.kill('SIGKILL');
      const config = parseNetworkConfig(hostNetwork(identity, 0));
      await sweepNetwork(config, new Set());
      await removeHostNetwork(config);
      await execa('pkill', ['-9', '-f', dir.path], { reject: false });
      await detachLoopsUnder(dir.path);
      await deleteKeys(keyPrefix);
      await dir.remove();
    }, 60_000);

    it('finishes the job on retry after a restart, re-attaching the running VM, and leaves nothing behind', async () => {
      const { child: first } = await startWorker();
      const id = String(
        (await (await client.create({ template: 'guest', vcpus: 1, memoryMib: 1024 })).result(180_000))
          .sandboxId,
      );
      // Freeze QEMU so the snapshot job is certainly in flight (stuck on QMP) when the worker dies.
      const { stdout: qemuPid } = await execa('pgrep', [
        '-f',
        join(dir.path, 'state', 'run', id, 'api.sock'),
      ]);
      const pid = Number(qemuPid.trim().split('\n')[0]);
      process.kill(pid, 'SIGSTOP');
      const snapshot = await client.snapshot(id, { snapshotId: 'snap-restart' });
      for (
        let i = 0;
        i < 200 && (await client.queueFor('hk').getJobState(snapshot.jobId)) !== 'active';
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
      expect((await client.get(id))?.state).toBe('running');
      // Started twice: once on the killed worker, once after the restart.
      const job = await finishedJob(client.queueFor('hk'), snapshot.jobId);
      expect(job.attemptsStarted).toBeGreaterThanOrEqual(2);

      await (await client.destroy(id)).result();
      expect((await listNetns(defaultRunner)).filter((name) => name.startsWith('hgwq0-'))).toEqual([]);
      const snapshotEntries = await readdir(join(dir.path, 'state', 'snapshots', 'snap-restart'));
      expect(snapshotEntries.some((name) => name.endsWith('.partial'))).toBe(false);
      const { stdout } = await execa('pgrep', ['-f', join(dir.path, 'state', 'run')], { reject: false });
      expect(stdout.trim()).toBe('');
      const { stdout: loops } = await execa('losetup', ['-l', '-n'], { reject: false });
      expect(loops.split('\n').filter((line) => line.includes(dir.path))).toEqual([]);
    }, 300_000);
  },
);
