import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestGuestManifest } from '../../../scripts/guest/manifest.ts';
import {
  ensureNetwork,
  parseNetworkConfig,
  removeNetwork,
  type SlotLayout,
  sweepNetwork,
} from '../../../src/network/index.ts';
import { testGuestBuilt, testGuestPaths } from '../../../src/templates/test-guest.ts';
import { pollUntil } from '../../../src/util/poll.ts';
import { findQemuBinary } from '../../../src/vmm/qemu/qemu-backend.ts';
import type { QemuSandboxVm } from '../../../src/vmm/qemu/qemu-sandbox-vm.ts';
import { QmpClient } from '../../../src/vmm/qemu/qmp-client.ts';
import { tcgVm, testGuestSpec } from '../../support/qemu-guest.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';

const qemu = await findQemuBinary();
const skipReason =
  qemu === undefined
    ? 'no qemu-system-x86_64 on this machine'
    : !testGuestBuilt()
      ? 'the test guest is not built (npm run guest:build)'
      : process.getuid?.() !== 0
        ? 'network namespaces and TAP devices need root'
        : undefined;
const manifest = skipReason
  ? undefined
  : TestGuestManifest.parse(JSON.parse(await readFile(testGuestPaths().manifestPath, 'utf8')));
const kernelReseeds = manifest !== undefined && manifest.vmgenid !== 'absent';

// Own prefix and ranges; the guests are reached on their slot addresses only.
const network = parseNetworkConfig({
  prefix: 'hgvg',
  vethRange: '10.122.0.0/16',
  hostRange: '10.123.0.0/16',
  maxSlots: 4,
});
const SLOTS = [1, 2, 3];

/** One GET to the guest through the slot's host address; retried while busybox httpd answers empty. */
async function guest(layout: SlotLayout, path: string): Promise<string> {
  return pollUntil(
    `${path} on ${layout.hostIp}`,
    async () => {
      const response = await fetch(`http://${layout.hostIp}${path}`, { signal: AbortSignal.timeout(5_000) });
      const text = (await response.text()).trim();
      return response.status === 200 && text !== '' ? text : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

/** The GUID the VM's vmgenid device shows its guest, asked over QMP. */
async function generationId(vm: QemuSandboxVm): Promise<string> {
  const qmp = await QmpClient.connect(vm.paths.apiSocket);
  try {
    return (await qmp.queryVmGenerationId()).guid;
  } finally {
    await qmp.close();
  }
}

// Real QEMU 7.2 (TCG) with the test guest: every QEMU start draws its own vmgenid GUID, a
// restore (-incoming) included, and a guest kernel with CONFIG_VMGENID reseeds on it.
describe.skipIf(skipReason !== undefined)(
  `vmgenid on real QEMU TCG: a restore is a new VM generation${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let temp: TempDir;
    let slots: SlotLayout[] = [];
    const vms: QemuSandboxVm[] = [];
    let snapshotDir: string;

    const specFor = (id: string, slot: SlotLayout) => testGuestSpec(temp.path, id, slot);

    function vmFor(id: string): QemuSandboxVm {
      const vm = tcgVm(qemu!, temp.path, id);
      vms.push(vm);
      return vm;
    }

    beforeAll(async () => {
      temp = await makeTempDir('hangar-vmgenid-');
      await sweepNetwork(network, new Set());
      slots = await Promise.all(SLOTS.map((slot) => ensureNetwork(slot, network)));
      snapshotDir = join(temp.path, 'snaps', 's1');
    }, 60_000);

    afterAll(async () => {
      await Promise.allSettled(vms.map((vm) => vm.shutdown()));
      await Promise.allSettled(SLOTS.map((slot) => removeNetwork(slot, network)));
      await sweepNetwork(network, new Set()).catch(() => undefined);
      await temp?.remove();
    }, 60_000);

    it(`each restore of one snapshot gets its own generation id; the guest kernel (${manifest?.kernelVersion}, CONFIG_VMGENID ${manifest?.vmgenid}) ${kernelReseeds ? 'reseeds on it' : 'cannot see it'}`, async () => {
      const source = vmFor('vg-src');
      await source.ensureBooted(await specFor('vg-src', slots[0]!));
      expect(await guest(slots[0]!, '/cgi-bin/ready')).toBe('ready');
      const sourceId = await generationId(source);
      // A booted guest saw one generation only: nothing to reseed for.
      expect(await guest(slots[0]!, '/cgi-bin/reseeds')).toBe('vmfork=0 endpoint=0');
      // Linux reseeds on a new generation only once its CRNG is ready: the virtio-rng device
      // makes it so right after boot (a random read now would otherwise block on it).
      expect(await guest(slots[0]!, '/cgi-bin/random')).toMatch(/^[0-9a-f]{32}$/);
      expect((await source.snapshotTo(snapshotDir)).outcome).toBe('done');

      const clones = [vmFor('vg-a'), vmFor('vg-b')];
      const ids: string[] = [];
      for (const [index, clone] of clones.entries()) {
        const spec = await specFor(clone.sandboxId, slots[index + 1]!);
        expect(await clone.restoreFrom(snapshotDir, spec, { resume: true })).toBe('done');
        ids.push(await generationId(clone));
      }
      expect(new Set([sourceId, ...ids]).size).toBe(3);
      for (const slot of slots.slice(1)) {
        // Each clone's kernel log starts as the source's (none) and gains one line on its new
        // generation: the ACPI notification QEMU raised when it loaded the snapshot.
        const expected = `vmfork=${kernelReseeds ? 1 : 0} endpoint=0`;
        await pollUntil(
          `${expected} on ${slot.hostIp}`,
          async () => ((await guest(slot, '/cgi-bin/reseeds')) === expected ? true : undefined),
          { timeoutMs: 20_000, intervalMs: 250 },
        );
      }
    }, 240_000);
  },
);
