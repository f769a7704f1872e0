import { randomBytes } from 'node:crypto';
import { access, constants, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestGuest } from '../../scripts/guest/build.ts';
import { GUEST_UP_MARKER } from '../../scripts/guest/guest-scripts.ts';
import type { TestGuestManifest } from '../../scripts/guest/manifest.ts';
import {
  ensureHostNetwork,
  ensureNetwork,
  parseNetworkConfig,
  removeHostNetwork,
  removeNetwork,
  type SlotLayout,
  sweepNetwork,
} from '../../src/network/index.ts';
import { pollUntil } from '../../src/util/poll.ts';

const QEMU = 'qemu-system-x86_64';
// Own prefix and ranges: nothing here collides with other suites' slots.
const config = parseNetworkConfig({
  prefix: 'hggt',
  vethRange: '10.246.0.0/16',
  hostRange: '10.247.0.0/16',
  maxSlots: 4,
});
const SLOT = 1;
const BOOT_BUDGET_MS = 60_000;

/** Why this suite cannot run here, or undefined when it can. */
async function skipReason(): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  const found = await Promise.all(
    dirs.map((dir) =>
      access(join(dir, QEMU), constants.X_OK).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (!found.includes(true)) return `${QEMU} is not installed (apt-get install qemu-system-x86)`;
  if (process.getuid?.() !== 0) return 'network namespaces and TAP devices need root';
  return undefined;
}

const SKIP = await skipReason();

/** One GET to the guest through the slot's host address (DNAT to 169.254.0.21 in the namespace). */
async function get(
  layout: SlotLayout,
  path: string,
  timeoutMs = 5_000,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://${layout.hostIp}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, text: (await response.text()).trim() };
}

/** One POST of `body` to the guest through the slot's host address. */
async function post(
  layout: SlotLayout,
  path: string,
  body: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://${layout.hostIp}${path}`, {
    method: 'POST',
    body,
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, text: (await response.text()).trim() };
}

// Real QEMU (TCG) booting Debian's cloud kernel with the busybox initramfs, on a real network
// slot (netns, veth, TAP, nftables DNAT), with a sparse file as its raw virtio disk.
describe.skipIf(SKIP !== undefined)(
  `test guest on real QEMU TCG (real kernel, real netns)${SKIP === undefined ? '' : `: skipped, ${SKIP}`}`,
  () => {
    let dir: string;
    let manifest: TestGuestManifest;
    let layout: SlotLayout;
    let qemu: ResultPromise | undefined;
    let diskPath: string;
    let serialPath: string;
    let startedAt = 0;

    const serialLog = async (): Promise<string> =>
      readFile(serialPath, 'utf8').catch(() => '(no serial log)');

    beforeAll(async () => {
      ({ manifest } = await buildTestGuest());
      dir = await mkdtemp(join(tmpdir(), 'hangar-test-guest-'));
      diskPath = join(dir, 'disk.raw');
      serialPath = join(dir, 'serial.log');
      await writeFile(diskPath, '');
      await truncate(diskPath, 64 * 1024 * 1024);
      await sweepNetwork(config, new Set());
      await ensureHostNetwork(config);
      layout = await ensureNetwork(SLOT, config);
      startedAt = performance.now();
      qemu = execa(
        'ip',
        [
          'netns',
          'exec',
          layout.netns,
          QEMU,
          ...['-accel', 'tcg', '-machine', 'q35', '-m', '256', '-smp', '1'],
          ...['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'],
          ...['-serial', `file:${serialPath}`],
          ...['-kernel', manifest.kernelPath, '-initrd', manifest.initramfsPath, '-append', manifest.cmdline],
          ...['-drive', `file=${diskPath},if=virtio,format=raw`],
          ...['-netdev', `tap,id=n0,ifname=${layout.tap},script=no,downscript=no`],
          ...['-device', `virtio-net-pci,netdev=n0,mac=${layout.guestMac.toLowerCase()}`],
          ...['-device', 'virtio-rng-pci'],
        ],
        { stdin: 'ignore', reject: false, forceKillAfterDelay: 5_000 },
      );
    }, 300_000);

    afterAll(async () => {
      // Killing an exited process is a no-op; the promise never rejects (reject: false).
      qemu?.kill('SIGKILL');
      await qemu;
      // Unconditional: a beforeAll cut short may have built part of the slot.
      await removeNetwork(SLOT, config);
      await removeHostNetwork(config);
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }, 60_000);

    it(
      'boots and answers /cgi-bin/ready on the slot host address',
      async () => {
        const exited = qemu!.then(async (result) => {
          throw new Error(`QEMU exited (${result.exitCode ?? result.signal}) before the guest answered:
${result.stderr}\nserial:\n${await serialLog()}`);
        });
        const ready = pollUntil(
          `the guest's /cgi-bin/ready on ${layout.hostIp}`,
          async () => {
            const answer = await get(layout, '/cgi-bin/ready', 2_000);
            return answer.status === 200 ? answer.text : undefined;
          },
          { timeoutMs: BOOT_BUDGET_MS, intervalMs: 250 },
        );
        // Only `ready` settles the race on success; `exited` stays pending while QEMU runs.
        exited.catch(() => {});
        const text = await Promise.race([ready, exited]).catch(async (error: unknown) => {
          throw new Error(`${error instanceof Error ? error.message : error}\nserial:\n${await serialLog()}`);
        });
        expect(text).toBe('ready');
        const bootMs = Math.round(performance.now() - startedAt);
        console.info(
          `test guest (${manifest.kernelVersion}, QEMU TCG): first HTTP answer ${bootMs} ms after launch`,
        );
        expect(await serialLog()).toContain(`${GUEST_UP_MARKER} kernel=${manifest.kernelVersion}`);
      },
      BOOT_BUDGET_MS + 10_000,
    );

    it('counts in guest memory and mirrors each count to the raw virtio disk', async () => {
      expect(await get(layout, '/cgi-bin/disk')).toEqual({ status: 200, text: 'empty' });
      for (const n of [1, 2, 3]) {
        expect(await get(layout, '/cgi-bin/counter')).toEqual({
          status: 200,
          text: `counter=${n} disk=${n}`,
        });
      }
      expect(await get(layout, '/cgi-bin/disk')).toEqual({ status: 200, text: 'counter=3' });
    });

    it('reports 16 fresh random bytes as 32 hex digits on /cgi-bin/random', async () => {
      const first = await get(layout, '/cgi-bin/random');
      const second = await get(layout, '/cgi-bin/random');
      expect(first).toMatchObject({ status: 200, text: expect.stringMatching(/^[0-9a-f]{32}$/) });
      expect(second.text).toMatch(/^[0-9a-f]{32}$/);
      expect(second.text).not.toBe(first.text);
    });

    it('takes 32 to 64 bytes as hex on /cgi-bin/reseed and refuses anything else', async () => {
      expect(await post(layout, '/cgi-bin/reseed', randomBytes(32).toString('hex'))).toEqual({
        status: 200,
        text: 'reseeded bytes=32',
      });
      expect(await post(layout, '/cgi-bin/reseed', randomBytes(64).toString('hex'))).toEqual({
        status: 200,
        text: 'reseeded bytes=64',
      });
      for (const [body, text] of [
        ['ab'.repeat(31), 'want 64 to 128 hex digits, an even count'],
        ['ab'.repeat(65), 'want 64 to 128 hex digits, an even count'],
        [`${'ab'.repeat(32)}c`, 'want 64 to 128 hex digits, an even count'],
        ['AB'.repeat(32), 'not lower-case hex'],
        [`${'ab'.repeat(31)};x`, 'not lower-case hex'],
      ]) {
        expect(await post(layout, '/cgi-bin/reseed', body!)).toEqual({ status: 400, text });
      }
      expect(await get(layout, '/cgi-bin/reseed')).toEqual({ status: 405, text: 'POST the bytes' });
      // Two accepted, none of the refusals counted; the guest's own random bytes still flow.
      expect(await get(layout, '/cgi-bin/reseeds')).toEqual({ status: 200, text: 'vmfork=0 endpoint=2' });
      expect((await get(layout, '/cgi-bin/random')).text).toMatch(/^[0-9a-f]{32}$/);
    });

    it('leaves counter=3 at offset 0 of the disk file after QEMU is killed', async () => {
      qemu!.kill('SIGKILL');
      await qemu;
      const handle = await open(diskPath, 'r');
      try {
        const block = Buffer.alloc(512);
        await handle.read(block, 0, 512, 0);
        const record = 'counter=3';
        expect(block.toString('latin1', 0, record.length)).toBe(record);
        // The rest of the block is the zero padding dd wrote.
        expect(block.subarray(record.length).every((byte) => byte === 0)).toBe(true);
      } finally {
        await handle.close();
      }
    });
  },
);
