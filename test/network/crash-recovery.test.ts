import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureNetwork,
  parseNetworkConfig,
  removeNetwork,
  SLOT_STEP_NAMES,
  slotLayout,
  sweepNetwork,
} from '../../src/network/index.ts';
import { type HostSnapshot, snapshotHost } from './support/host-state.ts';
import { RecordingRunner } from './support/recording-runner.ts';
import { json, verifySlot } from './support/verify-slot.ts';

// Own prefix and ranges: test files run in parallel and sweeps remove what they do not own.
const config = parseNetworkConfig({
  prefix: 'hgtc',
  vethRange: '10.217.0.0/16',
  hostRange: '10.216.0.0/16',
  maxSlots: 40,
});

class InjectedCrash extends Error {}

/** Whether anything named after the slot is left on the host. */
async function leftovers(slot: number): Promise<string[]> {
  const layout = slotLayout(slot, config);
  const namespaces = await json<{ name: string }[]>('ip', ['-j', 'netns', 'list']);
  const links = await json<{ ifname: string }[]>('ip', ['-j', 'link', 'show']);
  const routes = await json<{ dst: string }[]>('ip', ['-j', 'route', 'show', 'exact', `${layout.hostIp}/32`]);
  return [
    ...namespaces.filter((n) => n.name === layout.netns).map((n) => n.name),
    ...links.filter((l) => l.ifname === layout.hostVeth).map((l) => l.ifname),
    ...routes.map((r) => r.dst),
  ];
}

describe('ensureNetwork crash recovery (a crash injected after every step)', () => {
  let before: HostSnapshot;

  beforeAll(async () => {
    await sweepNetwork(config, new Set());
    before = await snapshotHost(config.prefix);
  });
  afterAll(async () => {
    await sweepNetwork(config, new Set()).catch(() => undefined);
  });

  it('has the documented steps, in order', () => {
    expect(SLOT_STEP_NAMES).toEqual([
      'netns',
      'veth',
      'host-veth-address',
      'host-veth-up',
      'ns-veth-address',
      'ns-links-up',
      'ns-default-route',
      'tap',
      'tap-address',
      'tap-up',
      'ns-forwarding',
      'ns-nat',
      'host-route',
    ]);
  });

  // One slot per step, all at once: each crashes after its step, then converges and is removed.
  it.concurrent.for(SLOT_STEP_NAMES.map((step, index) => ({ step, slot: index + 1 })))(
    'crash after $step: rejects, a retry converges, removal leaves nothing',
    async ({ step, slot }, { expect }) => {
      const seen: string[] = [];
      const crashed = ensureNetwork(slot, config, {
        afterStep: (name) => {
          seen.push(name);
          if (name === step) throw new InjectedCrash(`crash after ${name}`);
        },
      });
      await expect(crashed).rejects.toBeInstanceOf(InjectedCrash);
      expect(seen).toEqual(SLOT_STEP_NAMES.slice(0, SLOT_STEP_NAMES.indexOf(step) + 1));

      const layout = await ensureNetwork(slot, config);
      await verifySlot(layout, config, expect);
      const recorder = new RecordingRunner();
      await ensureNetwork(slot, config, { runner: recorder });
      expect(recorder.mutating()).toEqual([]);

      await removeNetwork(slot, config);
      expect(await leftovers(slot)).toEqual([]);
    },
  );

  it('a crash on a rebuilt namespace converges too (namespace deleted under a built slot)', async () => {
    const slot = 30;
    await ensureNetwork(slot, config);
    await execa('ip', ['netns', 'del', slotLayout(slot, config).netns]);
    await verifySlot(await ensureNetwork(slot, config), config);
    await removeNetwork(slot, config);
    expect(await leftovers(slot)).toEqual([]);
  });

  it('leaves the host exactly as before', async () => {
    expect(await snapshotHost(config.prefix)).toEqual(before);
  });
});
