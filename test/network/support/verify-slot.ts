import { execa } from 'execa';
import { type ExpectStatic, expect as globalExpect } from 'vitest';
import type { NetworkConfig, SlotLayout } from '../../../src/network/index.ts';

interface IpLink {
  ifname: string;
  flags: string[];
  link_netnsid?: number;
  linkinfo?: { info_kind?: string; info_data?: { type?: string } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

interface NftObject {
  chain?: { name: string; type: string; hook: string; prio: number; policy: string };
  rule?: { chain: string; expr: Record<string, unknown>[] };
}

interface Route {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** Runs `ip -d -j -batch -` (on the host or in `netns`): one parsed JSON document per command. */
async function batch(netns: string | undefined, commands: string[]): Promise<unknown[]> {
  const where = netns === undefined ? [] : ['-n', netns];
  const { stdout } = await execa('ip', [...where, '-d', '-j', '-batch', '-'], {
    input: `${commands.join('\n')}\n`,
  });
  return String(stdout)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}

/** Runs a command and parses its JSON stdout. */
export async function json<T>(file: string, args: string[]): Promise<T> {
  const { stdout } = await execa(file, args);
  return JSON.parse(String(stdout)) as T;
}

/** The objects of one nft table (`nft -j list table`), optionally inside a namespace. */
export async function nftTable(family: string, table: string, netns?: string): Promise<NftObject[]> {
  const nft = ['nft', '-j', 'list', 'table', family, table];
  const document =
    netns === undefined
      ? await json<{ nftables: NftObject[] }>('nft', nft.slice(1))
      : await json<{ nftables: NftObject[] }>('ip', ['netns', 'exec', netns, ...nft]);
  return document.nftables;
}

const inet = (link: IpLink | undefined): string[] =>
  (link?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);

/**
 * Asserts, with `ip -j` and `nft -j`, that one slot is built exactly as its layout says.
 * Concurrent tests pass their own `expect`.
 */
export async function verifySlot(
  layout: SlotLayout,
  config: NetworkConfig,
  expect: ExpectStatic = globalExpect,
): Promise<void> {
  // Two `ip -batch` reads (one JSON line per command) keep this cheap enough to run per slot.
  const [hostSide, nsSide, forwarding] = await Promise.all([
    batch(undefined, [
      'netns list',
      `addr show dev ${layout.hostVeth}`,
      `route show exact ${layout.hostIp}/32`,
    ]),
    batch(layout.netns, ['addr show', 'route show default']),
    execa('ip', ['netns', 'exec', layout.netns, 'sysctl', '-n', 'net.ipv4.ip_forward']),
  ]);
  const [namespaces, [hostVeth], hostRoutes] = hostSide as [{ name: string }[], IpLink[], Route[]];
  const [inside, nsRoutes] = nsSide as [IpLink[], Route[]];
  expect(namespaces.map((n) => n.name)).toContain(layout.netns);

  expect(hostVeth?.linkinfo?.info_kind).toBe('veth');
  expect(hostVeth?.flags).toContain('UP');
  expect(inet(hostVeth)).toEqual([`${layout.hostVethIp}/31`]);

  const byName = new Map(inside.map((link) => [link.ifname, link]));
  expect([...byName.keys()].sort()).toEqual(['eth0', 'lo', 'tap0']);
  expect(byName.get('lo')?.flags).toContain('UP');
  const eth0 = byName.get('eth0');
  expect(eth0?.linkinfo?.info_kind).toBe('veth');
  expect(eth0?.flags).toContain('UP');
  expect(inet(eth0)).toEqual([`${layout.nsVethIp}/31`]);
  const tap = byName.get('tap0');
  expect(tap?.linkinfo?.info_data?.type).toBe('tap');
  expect(tap?.flags).toContain('UP');
  expect(inet(tap)).toEqual(['169.254.0.22/30']);

  expect(hostRoutes).toEqual([expect.objectContaining({ gateway: layout.nsVethIp, dev: layout.hostVeth })]);
  expect(nsRoutes).toEqual([expect.objectContaining({ gateway: layout.hostVethIp, dev: 'eth0' })]);
  expect(String(forwarding.stdout).trim()).toBe('1');

  const nat = await nftTable('ip', `${config.prefix}-nat`, layout.netns);
  const chains = nat.flatMap((o) => (o.chain ? [o.chain] : []));
  expect(chains.map((c) => [c.name, c.type, c.hook, c.prio])).toEqual([
    ['prerouting', 'nat', 'prerouting', -100],
    ['postrouting', 'nat', 'postrouting', 100],
  ]);
  const rules = nat.flatMap((o) => (o.rule ? [o.rule] : []));
  expect(rules).toEqual(
    [
      {
        chain: 'prerouting',
        expr: [
          { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'eth0' } },
          {
            match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: layout.hostIp },
          },
          { dnat: { addr: '169.254.0.21' } },
        ],
      },
      {
        chain: 'postrouting',
        expr: [
          { match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'eth0' } },
          {
            match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '169.254.0.21' },
          },
          { snat: { addr: layout.nsVethIp } },
        ],
      },
    ].map((rule) => expect.objectContaining(rule)),
  );
}
