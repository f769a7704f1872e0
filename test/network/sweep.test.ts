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

/** The host guards' chains as `nft -j list table inet hgtd` shows them. */
const HOST_CHAINS = [
  { name: 'forward', type: 'filter', hook: 'forward' },
  { name: 'input', type: 'filter', hook: 'input' },
  { name: 'postrouting', type: 'nat', hook: 'postrouting' },
];

/** The chains of this file's host table (with a rule count each), or undefined when there is no table. */
async function hostChains(): Promise<{ name: string; type: string; hook: string }[] | undefined> {
  const listed = await execa('nft', ['-j', 'list', 'table', 'inet', config.prefix], { reject: false });
  if (listed.exitCode !== 0) {
    expect(String(listed.stderr)).toMatch(/No such file or directory/);
    return undefined;
  }
  const objects = (JSON.parse(String(listed.stdout)) as { nftables: Record<string, unknown>[] }).nftables;
  const rules = objects.flatMap((o) => (o.rule === undefined ? [] : [(o.rule as { chain: string }).chain]));
  const chains = objects.flatMap((o) =>
    o.chain === undefined ? [] : [o.chain as { name: string; type: string; hook: string }],
  );
  for (const chain of chains)
    expect(rules.filter((name) => name === chain.name).length, chain.name).toBeGreaterThan(0);
  return chains
    .map(({ name, type, hook }) => ({ name, type, hook }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

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
    await removeHostNetwork(config);
    before = await snapshotHost(config.prefix);
  });
  afterAll(async () => {
    await Promise.all([1, 2, 3].map((slot) => removeNetwork(slot, config).catch(() => undefined)));
    await sweepNetwork(config, new Set()).catch(() => undefined);
    await removeHostNetwork(config).catch(() => undefined);
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
    });
  });

  it('with nothing owned it removes every slot but keeps the host table; removeHostNetwork then leaves the host as before', async () => {
    expect(await sweepNetwork(config, new Set())).toEqual({
      namespaces: ['hgtd-ns-2'],
      links: ['hgtd-veth-2'],
      routes: ['10.218.0.2'],
    });
    expect(await hostChains()).toEqual(HOST_CHAINS);
    expect(await removeHostNetwork(config)).toBe(true);
    expect(await snapshotHost(config.prefix)).toEqual(before);
  });

  // A fresh worker builds the host table and then sweeps with no slot claimed yet.
  it('a fresh start (host table, then a sweep owning nothing) keeps the forward, input and masquerade guards', async () => {
    await ensureHostNetwork(config);
    expect(await hostChains()).toEqual(HOST_CHAINS);
    for (let sweep = 0; sweep < 2; sweep += 1) {
      expect(await sweepNetwork(config, new Set())).toMatchObject({ namespaces: [], links: [], routes: [] });
      expect(await hostChains()).toEqual(HOST_CHAINS);
    }
    expect(await removeHostNetwork(config)).toBe(true);
    expect(await hostChains()).toBeUndefined();
    expect(await snapshotHost(config.prefix)).toEqual(before);
  });
});
