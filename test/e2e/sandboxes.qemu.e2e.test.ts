import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HangarEvent } from '../../src/events/event-schemas.ts';
import { defaultRunner } from '../../src/exec/command-runner.ts';
import { listNetns } from '../../src/network/index.ts';
import { TemplateCatalog } from '../../src/templates/template-catalog.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';
import { bump, diskCounter, guest } from './guest-http.ts';
import { qemuAvailable, testGuestTemplate } from './guest-template.ts';

const QEMU = await qemuAvailable();

// Real Redis, real QEMU (TCG) booting a real Linux kernel, real netns/TAP/NAT, file-CoW disks
// on loop devices. Driven only through the producer client, as a backend app would.
describe.skipIf(!QEMU.ok)(
  `sandboxes on a real VMM (QEMU TCG, real kernel)${QEMU.ok ? '' : `: skipped, ${QEMU.reason}`}`,
  () => {
    let fleet: TestFleet;
    const events: HangarEvent[] = [];
    const abort = new AbortController();
    let reading: Promise<void> | undefined;
    const ids: string[] = [];
    const address = async (id: string) => (await fleet.client.get(id))!.address!;

    beforeAll(async () => {
      fleet = await startTestFleet({
        hosts: ['q1'],
        network: { prefix: 'hge2', octet: 196 },
        templates: new TemplateCatalog([await testGuestTemplate()]),
        worker: { vmm: 'qemu', poolSize: 2, concurrency: 4 },
      });
      reading = (async () => {
        for await (const { event } of fleet.client.events({ signal: abort.signal, blockMs: 100 }))
          events.push(event);
      })();
    }, 120_000);

    afterAll(async () => {
      abort.abort();
      await reading;
      await fleet?.stop();
    }, 120_000);

    it('creates 3 sandboxes, each answering on its own host address once ready', async () => {
      const handles = await Promise.all(
        [0, 1, 2].map(() => fleet.client.create({ template: 'guest', vcpus: 1, memoryMib: 256 })),
      );
      for (const result of await Promise.all(handles.map((handle) => handle.result(180_000)))) {
        ids.push(String(result.sandboxId));
      }
      const addresses = await Promise.all(ids.map(address));
      expect(new Set(addresses).size).toBe(3);
      for (const hostIp of addresses) expect(await guest(hostIp, '/cgi-bin/ready')).toBe('ready');
    }, 200_000);

    it('pauses one (its endpoint stops answering) and resumes it with its counter intact', async () => {
      const [id] = ids;
      const hostIp = await address(id!);
      const before = (await bump(hostIp)).counter;
      await (await fleet.client.pause(id!)).result();
      await expect(guest(hostIp, '/cgi-bin/counter', 1_000)).rejects.toThrow();
      await (await fleet.client.resume(id!)).result();
      // The request sent while paused may have been served on resume: the counter only moved on.
      expect((await bump(hostIp)).counter).toBeGreaterThan(before);
    }, 60_000);

    it('restores a snapshot into another slot: memory and disk continue from the snapshot, the original goes on', async () => {
      const source = ids[1]!;
      const sourceIp = await address(source);
      let at = 0;
      for (let index = 0; index < 3; index += 1) at = (await bump(sourceIp)).counter;
      await (await fleet.client.snapshot(source, { snapshotId: 'e2e-snap' })).result(120_000);
      // The original keeps running and writing its own disk.
      const after = await bump(sourceIp);
      expect(after.counter).toBeGreaterThan(at);
      expect(Number(after.disk)).toBe(after.counter);

      const restored = await (await fleet.client.restore('e2e-snap', { sandboxId: 'e2e-restored' })).result(
        180_000,
      );
      ids.push('e2e-restored');
      const restoredIp = await address('e2e-restored');
      expect(restoredIp).not.toBe(sourceIp);
      expect((await fleet.client.get('e2e-restored'))?.slot).not.toBe((await fleet.client.get(source))?.slot);
      expect(restored).toMatchObject({ state: 'running' });
      // The restored disk holds the value of snapshot time, not the original's later write.
      const atSnapshot = await diskCounter(restoredIp);
      expect(atSnapshot).toBeGreaterThanOrEqual(at);
      expect(atSnapshot).toBeLessThan(after.counter);
      // Memory moved too: the restored guest counts on from the snapshot (a fresh guest would say 1).
      const next = await bump(restoredIp);
      expect(next.counter).toBeGreaterThan(atSnapshot);
      expect(next.counter).toBeLessThan(atSnapshot + 5);
      expect((await bump(sourceIp)).counter).toBeGreaterThan(after.counter);
    }, 300_000);

    it('reports a kill -9 of a QEMU process as a crash within 2 s', async () => {
      const victim = ids[2]!;
      const worker = fleet.workers[0]!;
      const pid = worker.ctx.vms.get(victim).pid!;
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      let crash: HangarEvent | undefined;
      while (crash === undefined && Date.now() - killedAt < 5_000) {
        crash = events.find((event) => event.type === 'sandbox.crashed' && event.sandboxId === victim);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(crash).toBeDefined();
      expect(Date.parse(crash!.at) - killedAt).toBeLessThan(2_000);
      expect((await fleet.client.get(victim))?.state).toBe('crashed');
    }, 30_000);

    it('destroys everything and leaves no QEMU process, namespace, loop device or file', async () => {
      await Promise.all(ids.map(async (id) => (await fleet.client.destroy(id)).result(60_000)));
      const worker = fleet.workers[0]!;
      await worker.ctx.slots.drain();
      expect((await listNetns(defaultRunner)).filter((name) => name.startsWith('hge20-'))).toEqual([]);
      const { stdout: qemus } = await execa('pgrep', ['-f', `qemu-system.*${fleet.dir.path}`], {
        reject: false,
      });
      expect(qemus.trim()).toBe('');
      const { stdout: loops } = await execa('losetup', ['-l', '-n'], { reject: false });
      expect(loops.split('\n').filter((line) => line.includes(fleet.dir.path))).toEqual([]);
      expect(worker.ctx.ledger.entries()).toEqual([]);
    }, 120_000);
  },
);
