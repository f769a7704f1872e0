import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { defaultRunner } from '../../src/exec/command-runner.ts';
import { listNetns } from '../../src/network/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { HostLedger } from '../../src/state/host-ledger.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { useKillableWorker } from '../support/killable-worker.ts';
import { bump, guest } from './guest-http.ts';
import { qemuAvailable } from './guest-template.ts';

const QEMU = await qemuAvailable();
const identity = { prefix: 'hgvx', octet: 128 };

// A worker (its own process) keeping two test-guest VMs of 1 vCPU / 256 MiB booted and paused
// on real QEMU (TCG); creates through the client, readiness through the DNAT path.
describe.skipIf(!QEMU.ok)(
  `the VM pool on a real VMM (QEMU TCG, real kernel)${QEMU.ok ? '' : `: skipped, ${QEMU.reason}`}`,
  () => {
    const host = useKillableWorker({
      identity,
      vmm: 'qemu',
      guest: true,
      worker: { pool: { guest: { count: 2, vcpus: 1, memoryMib: 256 } }, heartbeatMs: 300 },
    });
    const ledger = () => HostLedger.read(join(host.dir, 'state', 'ledger.json'));
    const readyPool = async () => {
      const pool = Object.values((await ledger()).pool).filter((entry) => entry.state === 'ready');
      return pool.length === 2 ? pool : undefined;
    };
    const create = () => host.client.create({ template: 'guest', vcpus: 1, memoryMib: 256 });

    it('serves creates from the pool, refills, creates cold when it is empty, survives a worker SIGKILL, and leaves nothing', async () => {
      let { child } = await host.startWorker();
      const first = await pollUntil('the pool to fill', readyPool, { timeoutMs: 90_000, intervalMs: 200 });

      // Two creates take the two ready VMs; a third finds the pool empty (a refill boot takes
      // seconds under TCG) and boots cold. All three answer through their own address.
      const handles = [await create(), await create(), await create()];
      const results = await Promise.all(handles.map((handle) => handle.result(120_000)));
      const sandboxes = (await ledger()).sandboxes;
      const fromPool = results.filter((result) => sandboxes[result.sandboxId]?.vmId !== undefined);
      expect(fromPool.map((result) => sandboxes[result.sandboxId]!.vmId).sort()).toEqual(
        first.map((entry) => entry.vmId).sort(),
      );
      expect(results.length - fromPool.length).toBe(1);
      for (const result of results) {
        expect(result.state).toBe('running');
        expect((await bump(result.address!)).counter).toBeGreaterThanOrEqual(1);
      }
      // The two pool VMs booted from one image; each was reseeded once when it was taken,
      // so their kernels' random bytes are their own.
      const [one, two] = fromPool.map((result) => result.address!);
      expect(await guest(one!, '/cgi-bin/reseeds')).toMatch(/endpoint=1$/);
      expect(await guest(two!, '/cgi-bin/reseeds')).toMatch(/endpoint=1$/);
      const reads = [await guest(one!, '/cgi-bin/random'), await guest(two!, '/cgi-bin/random')];
      expect(reads[0]).toMatch(/^[0-9a-f]{32}$/);
      expect(reads[1]).not.toBe(reads[0]);
      const refilled = await pollUntil('the pool to refill', readyPool, {
        timeoutMs: 120_000,
        intervalMs: 200,
      });

      // A worker killed with a full pool: the new one keeps both VMs, and a create takes one.
      child.kill('SIGKILL');
      await child;
      ({ child } = await host.startWorker());
      await pollUntil(
        'the new worker to advertise the pool',
        async () =>
          (await internalsOf(host.client).store.hosts.heartbeatOf('hk'))?.pool.guest?.ready === 2
            ? true
            : undefined,
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      expect(Object.keys((await ledger()).pool).sort()).toEqual(refilled.map((entry) => entry.vmId).sort());
      const after = await (await create()).result(120_000);
      expect(refilled.map((entry) => entry.vmId)).toContain(
        (await ledger()).sandboxes[after.sandboxId]?.vmId,
      );
      expect((await bump(after.address!)).counter).toBeGreaterThanOrEqual(1);

      for (const result of [...results, after]) {
        expect((await (await host.client.destroy(result.sandboxId)).result(60_000)).state).toBe('destroyed');
      }
      child.kill('SIGTERM');
      await child;
      const left = await ledger();
      expect(left.sandboxes).toEqual({});
      expect(left.pool).toEqual({});
      const qemus = await execa('pgrep', ['-f', join(host.dir, 'state')], { reject: false });
      expect(qemus.stdout.trim()).toBe('');
      expect(
        (await listNetns(defaultRunner)).filter((name) => name.startsWith(`${identity.prefix}0-`)),
      ).toEqual([]);
    }, 600_000);
  },
);
