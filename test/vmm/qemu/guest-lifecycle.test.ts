import { copyFile, mkdir, readdir, truncate } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureNetwork,
  parseNetworkConfig,
  removeNetwork,
  type SlotLayout,
  sweepNetwork,
} from '../../../src/network/index.ts';
import { testGuestBuilt } from '../../../src/templates/test-guest.ts';
import { pollUntil } from '../../../src/util/poll.ts';
import { isAlive } from '../../../src/vmm/process/index.ts';
import { findQemuBinary } from '../../../src/vmm/qemu/qemu-backend.ts';
import { QemuSandboxVm } from '../../../src/vmm/qemu/qemu-sandbox-vm.ts';
import { readSpecFile } from '../../../src/vmm/qemu/spec-file.ts';
import type { VmCrash } from '../../../src/vmm/vm-driver.ts';
import { tcgVm, testGuestSpec } from '../../support/qemu-guest.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';

const qemu = await findQemuBinary();
const skipReason =
  qemu === undefined
    ? 'no qemu-system-x86_64 on this machine'
    : !testGuestBuilt()
      ? 'the test guest is not built (npm run guest:build)'
      : undefined;

// Own prefix and ranges; nothing leaves the host: the guests are reached on their slot addresses.
const network = parseNetworkConfig({
  prefix: 'hgqm',
  vethRange: '10.248.0.0/16',
  hostRange: '10.249.0.0/16',
  maxSlots: 10,
});
const SLOTS = [1, 2];

type Answer = { ok: true; body: string } | { ok: false; error: string };

// One GET with a hard deadline and no keep-alive: a paused guest must show up as a timeout.
function get(host: string, path: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    // busybox httpd passes the CGI's bare-LF header lines through: parse leniently.
    const options = { host, port: 80, path, agent: false, timeout: timeoutMs, insecureHTTPParser: true };
    const req = request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ ok: true, body: body.trim() }));
      res.on('error', (error) => resolve({ ok: false, error: error.message }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, error: 'timeout' });
    });
    req.on('error', (error) => resolve({ ok: false, error: error.message }));
    req.end();
  });
}

function waitUntilAnswering(host: string): Promise<string> {
  return pollUntil(
    `the guest at ${host} to answer /cgi-bin/ready`,
    async () => {
      const answer = await get(host, '/cgi-bin/ready', 2_000);
      return answer.ok && answer.body === 'ready' ? answer.body : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
}

async function counter(host: string): Promise<string> {
  const answer = await get(host, '/cgi-bin/counter', 10_000);
  if (!answer.ok) throw new Error(`counter on ${host}: ${answer.error}`);
  return answer.body;
}

describe.skipIf(skipReason !== undefined)(
  `QemuSandboxVm: a real guest under QEMU TCG${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let temp: TempDir;
    let slots: SlotLayout[] = [];
    const vms: QemuSandboxVm[] = [];
    let first: QemuSandboxVm;
    let second: QemuSandboxVm;
    let snapshotDir: string;

    const specFor = (id: string, slot: SlotLayout, memoryMib = 256) =>
      testGuestSpec(temp.path, id, slot, memoryMib);

    function vmFor(id: string): QemuSandboxVm {
      const vm = tcgVm(qemu!, temp.path, id);
      vms.push(vm);
      return vm;
    }

    beforeAll(async () => {
      temp = await makeTempDir('hangar-qemu-');
      await sweepNetwork(network, new Set());
      slots = await Promise.all(SLOTS.map((slot) => ensureNetwork(slot, network)));
      first = vmFor('qm-1');
      second = vmFor('qm-2');
      snapshotDir = join(temp.path, 'snaps', 's1');
    }, 60_000);

    afterAll(async () => {
      await Promise.allSettled(vms.map((vm) => vm.shutdown()));
      await Promise.allSettled(SLOTS.map((slot) => removeNetwork(slot, network)));
      await sweepNetwork(network, new Set()).catch(() => undefined);
      await temp?.remove();
    }, 60_000);

    it('boots (idempotently); the guest answers on its slot address and counts', async () => {
      const spec = await specFor('qm-1', slots[0]!);
      expect(await first.state()).toBe('absent');
      expect(await first.ensureBooted(spec)).toBe('done');
      expect(await first.ensureBooted(spec)).toBe('already');
      expect(await first.state()).toBe('running');
      await waitUntilAnswering(slots[0]!.hostIp);
      expect(await counter(slots[0]!.hostIp)).toBe('counter=1 disk=1');
      expect(await counter(slots[0]!.hostIp)).toBe('counter=2 disk=2');
      // Another handle on the same runtime dir (a restarted worker) finds the same QEMU.
      const again = new QemuSandboxVm('qm-1', first.paths.dir, { binary: qemu!, accel: 'tcg' });
      expect(await again.reattach()).toBe(true);
      expect(again.pid).toBe(first.pid);
      // ... and refuses to adopt it as a VM with another disk.
      await expect(again.ensureBooted({ ...spec, diskPath: '/dev/null' })).rejects.toMatchObject({
        code: 'E_ILLEGAL_STATE',
      });
    }, 120_000);

    it('pause stops the guest (HTTP times out within 1 s); resume continues the count', async () => {
      expect(await first.ensurePaused()).toBe('done');
      expect(await first.ensurePaused()).toBe('already');
      expect(await first.state()).toBe('paused');
      expect(await get(slots[0]!.hostIp, '/cgi-bin/ready', 1_000)).toEqual({ ok: false, error: 'timeout' });
      expect(await first.ensureResumed()).toBe('done');
      expect(await first.ensureResumed()).toBe('already');
      expect(await counter(slots[0]!.hostIp)).toBe('counter=3 disk=3');
    }, 60_000);

    it('snapshots into a directory that is complete only once renamed into place', async () => {
      const snap = await first.snapshotTo(snapshotDir);
      expect(snap.outcome).toBe('done');
      expect((await readdir(snapshotDir)).sort()).toEqual(['memory', 'vm-spec.json']);
      expect(snap.diskBytes).toBeGreaterThan(0);
      expect(await readSpecFile(snapshotDir)).toMatchObject({ vcpus: 1, memoryMib: 256 });
      expect((await first.snapshotTo(snapshotDir)).outcome).toBe('already');
      expect(await first.state()).toBe('paused');
    }, 120_000);

    it('restores into a second sandbox (other slot, own disk): the count continues from N', async () => {
      // The second sandbox's disk is a copy of the first's, taken while it is paused.
      const spec = await specFor('qm-2', slots[1]!, 512);
      await copyFile((await readSpecFile(first.paths.dir))!.diskPath, spec.diskPath);
      expect(await second.restoreFrom(snapshotDir, spec, { resume: true })).toBe('done');
      expect(await second.restoreFrom(snapshotDir, spec, { resume: true })).toBe('already');
      expect(await second.state()).toBe('running');
      // The machine takes the snapshot's shape, not the spec's 512 MiB.
      expect(await readSpecFile(second.paths.dir)).toMatchObject({ memoryMib: 256, diskPath: spec.diskPath });
      expect(await counter(slots[1]!.hostIp)).toBe('counter=4 disk=4');
      // The source resumes after its snapshot too, on its own slot.
      expect(await first.ensureResumed()).toBe('done');
      expect(await counter(slots[0]!.hostIp)).toBe('counter=4 disk=4');
    }, 120_000);

    it('reports a kill -9 of QEMU as a crash within 2 s', async () => {
      const crashes: VmCrash[] = [];
      second.onCrash((crash) => crashes.push(crash));
      const pid = second.pid!;
      process.kill(pid, 'SIGKILL');
      await pollUntil('the crash report', async () => (crashes.length > 0 ? true : undefined), {
        timeoutMs: 2_000,
        intervalMs: 20,
      });
      expect(crashes[0]).toMatchObject({ sandboxId: 'qm-2', pid, signal: 'SIGKILL' });
      expect(await second.state()).toBe('absent');
      expect(await second.shutdown()).toBe('already');
    }, 30_000);

    it('a restore from a damaged snapshot fails as a VMM exit and leaves nothing running', async () => {
      const damaged = join(temp.path, 'snaps', 'damaged');
      await mkdir(damaged, { recursive: true });
      await copyFile(join(snapshotDir, 'vm-spec.json'), join(damaged, 'vm-spec.json'));
      await copyFile(join(snapshotDir, 'memory'), join(damaged, 'memory'));
      await truncate(join(damaged, 'memory'), 64 * 1024);
      const third = vmFor('qm-3');
      const spec = await specFor('qm-3', slots[1]!);
      await expect(third.restoreFrom(damaged, spec, { resume: true })).rejects.toMatchObject({
        code: 'E_VMM_EXITED',
      });
      expect(await third.state()).toBe('absent');
    }, 60_000);

    it('shuts down through QMP and leaves no process behind', async () => {
      const crashes: VmCrash[] = [];
      first.onCrash((crash) => crashes.push(crash));
      const pid = first.pid!;
      expect(await first.shutdown()).toBe('done');
      expect(isAlive(pid)).toBe(false);
      expect(await first.shutdown()).toBe('already');
      expect(await first.state()).toBe('absent');
      expect(await readdir(first.paths.dir)).not.toContain('api.sock');
      expect(crashes).toEqual([]);
    }, 30_000);
  },
);
