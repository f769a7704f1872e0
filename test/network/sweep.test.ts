import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureHostNetwork,
  ensureNetwork,
  GUEST_IP,
  parseNetworkConfig,
  removeHostNetwork,
  removeNetwork,
  slotLayout,
  sweepNetwork,
} from '../../src/network/index.ts';
import { type HostSnapshot, snapshotHost } from './support/host-state.ts';
import { assertRoutedVia, connectFromHost, startServer } from './support/traffic.ts';
import { json, verifySlot } from './support/verify-slot.ts';

// Own prefix and ranges: this file's sweeps must never see another file's objects.
const config = parseNetworkConfig({
  prefix: 'hgtd',
  vethRange: '10.219.0.0/16',
  hostRange: '10.218.0.0/16',
  maxSlots: 10,
});

async function names(): Promise<{ namespaces: string[]; links: string[]; routes: string[] }> {
  const namespaces = await json<{ name: string }[]>('ip', ['-j', 'netns', 'list']);
  const links = await json<{ ifname: string }[]>('ip', ['-j', 'link', 'show']);
  const routes = await json<{ dst: string; dev?: string }[]>('ip', ['-j', 'route', 'show']);
  return {
    namespaces: namespaces.map((n) => n.name).filter((name) => name.startsWith('hgtd-')),
    links: links.map((l) => l.ifname).filter((name) => name.startsWith('hgtd-')),
    routes: routes.filter((r) => r.dst.startsWith('10.218.')).map((r) => r.dst),
  };
}

describe('sweepNetwork (startup sweep of objects no slot claim owns)', () => {
  let before: HostSnapshot;

  beforeAll(async () => {
    await sweepNetwork(config, new Set());
    before = await snapshotHost(config.prefix);
  });
  afterAll(async () => {
    await Promise.all([1, 2, 3].map((slot) => removeNetwork(slot, config).catch(() => undefined)));
    await sweepNetwork(config, new Set()).catch(() => undefined);
  });

  it('removes slots 1 and 3 and keeps owned slot 2 working', async () => {
    await ensureHostNetwork(config);
    await Promise.all([1, 2, 3].map((slot) => ensureNetwork(slot, config)));
    // A route left behind by a slot whose veth is already gone (host route to slot 7).
    await execa('ip', ['route', 'add', '10.218.0.7/32', 'dev', 'lo']);

    const swept = await sweepNetwork(config, new Set([2]));
    expect(swept).toEqual({
      namespaces: ['hgtd-ns-1', 'hgtd-ns-3'],
      links: ['hgtd-veth-1', 'hgtd-veth-3'],
      routes: ['10.218.0.1', '10.218.0.3', '10.218.0.7'],
      hostTable: false,
    });
    expect(await names()).toEqual({
      namespaces: ['hgtd-ns-2'],
      links: ['hgtd-veth-2'],
      routes: ['10.218.0.2'],
    });

    const layout = slotLayout(2, config);
    await verifySlot(layout, config);
    await execa('ip', ['-n', layout.netns, 'addr', 'add', `${GUEST_IP}/32`, 'dev', 'lo']);
    const server = await startServer(layout.netns, GUEST_IP, 8080);
    try {
      await assertRoutedVia(layout.hostIp, layout.hostVeth);
      expect(await connectFromHost(layout.hostIp, 8080, 2_000)).toEqual({
        ok: true,
        peer: expect.objectContaining({ remoteAddress: layout.hostVethIp }),
      });
    } finally {
      await server.stop();
    }
  });

  it('a second sweep with the same owned set finds nothing', async () => {
    expect(await sweepNetwork(config, new Set([2]))).toEqual({
      namespaces: [],
      links: [],
      routes: [],
      hostTable: false,
    });
  });

  it('with nothing owned it removes every slot and the host table, leaving the host as before', async () => {
    expect(await sweepNetwork(config, new Set())).toEqual({
      namespaces: ['hgtd-ns-2'],
      links: ['hgtd-veth-2'],
      routes: ['10.218.0.2'],
      hostTable: true,
    });
    expect(await removeHostNetwork(config)).toBe(false);
    expect(await snapshotHost(config.prefix)).toEqual(before);
  });
});
