import { readdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import {
  cidrContains,
  type NetworkConfig,
  parseCidr,
  parseIpv4,
  slotOfName,
} from '../../src/network/index.ts';

/** Kernel objects and processes of one run left on the machine, by kind. */
export interface HostLeaks {
  namespaces: string[];
  links: string[];
  /** Host routes to sandbox addresses (the host range). */
  routes: string[];
  /** nft tables of the prefix that should not be there, and rules or chains of single slots. */
  nft: string[];
  /** Loop devices whose backing file lies under the state dir. */
  loops: string[];
  /** Processes whose command line names the state dir (VMMs), other than the live worker. */
  processes: string[];
}

/** What may legitimately exist while the worker runs: its warm pool's slots and its host table. */
export interface HostAllowance {
  slots: ReadonlySet<number>;
  hostTable: boolean;
  /** Pids that may name the state dir (the live worker). */
  pids: ReadonlySet<number>;
}

/** Looks for every kernel object and process of a run on this machine that is not allowed. */
export async function censusHost(
  network: NetworkConfig,
  stateDir: string,
  allowed: HostAllowance,
): Promise<HostLeaks> {
  const [namespaces, links, routes, nft, loops, processes] = await Promise.all([
    strayNamespaces(network, allowed.slots),
    strayLinks(network, allowed.slots),
    strayRoutes(network, allowed.slots),
    strayNft(network, allowed.hostTable),
    loopsUnder(stateDir),
    processesNaming(stateDir, allowed.pids),
  ]);
  return { namespaces, links, routes, nft, loops, processes };
}

/** How many objects a host census found. */
export function countHostLeaks(leaks: HostLeaks): number {
  return Object.values(leaks).reduce((sum, list) => sum + list.length, 0);
}

async function json(argv: [string, ...string[]]): Promise<unknown> {
  const [file, ...args] = argv;
  const { stdout } = await execa(file, args);
  return stdout.trim() === '' ? [] : JSON.parse(stdout);
}

async function strayNamespaces(network: NetworkConfig, slots: ReadonlySet<number>): Promise<string[]> {
  const list = (await json(['ip', '-j', 'netns', 'list'])) as { name: string }[];
  return list
    .map((entry) => entry.name)
    .filter((name) => name.startsWith(`${network.prefix}-`))
    .filter((name) => !slots.has(slotOfName(name, 'ns', network) ?? -1))
    .sort();
}

async function strayLinks(network: NetworkConfig, slots: ReadonlySet<number>): Promise<string[]> {
  const list = (await json(['ip', '-j', 'link'])) as { ifname: string }[];
  return list
    .map((entry) => entry.ifname)
    .filter((name) => name.startsWith(`${network.prefix}-`))
    .filter((name) => !slots.has(slotOfName(name, 'veth', network) ?? -1))
    .sort();
}

async function strayRoutes(network: NetworkConfig, slots: ReadonlySet<number>): Promise<string[]> {
  const range = parseCidr(network.hostRange);
  const list = (await json(['ip', '-j', 'route', 'show'])) as { dst: string; dev?: string }[];
  return list
    .filter((route) => /^\d+\.\d+\.\d+\.\d+(\/32)?$/.test(route.dst))
    .filter((route) => {
      const address = parseIpv4(route.dst.replace(/\/32$/, ''));
      return cidrContains(range, address) && !slots.has(address - range.base);
    })
    .map((route) => `${route.dst} dev ${route.dev ?? '?'}`)
    .sort();
}

// The host table is `inet <prefix>` and holds only wildcard rules; a rule or chain naming one
// slot (its veth, its namespace, a /32 of the host range) would be a slot's rule left behind.
async function strayNft(network: NetworkConfig, hostTable: boolean): Promise<string[]> {
  const document = (await json(['nft', '-j', 'list', 'ruleset'])) as { nftables?: Record<string, unknown>[] };
  const hostRange = parseCidr(network.hostRange);
  const slotName = new RegExp(`${network.prefix}-(veth|ns)-\\d`);
  const found: string[] = [];
  for (const entry of document.nftables ?? []) {
    const [kind, value] = Object.entries(entry)[0] ?? [];
    if (kind === undefined || typeof value !== 'object' || value === null) continue;
    const object = value as {
      family?: string;
      name?: string;
      table?: string;
      chain?: string;
      handle?: number;
    };
    if (
      kind === 'table' &&
      (object.name === network.prefix || object.name?.startsWith(`${network.prefix}-`))
    ) {
      const isHostTable = object.family === 'inet' && object.name === network.prefix;
      if (!(isHostTable && hostTable)) found.push(`table ${object.family} ${object.name}`);
      continue;
    }
    if (object.table !== network.prefix || (kind !== 'rule' && kind !== 'chain')) continue;
    const text = JSON.stringify(value);
    const addresses = text.match(/\b\d+\.\d+\.\d+\.\d+\b/g) ?? [];
    const namesSlot = slotName.test(text) || (kind === 'chain' && /slot|\d+$/.test(object.name ?? ''));
    const slotAddress = addresses.some((address) => {
      const parsed = parseIpv4(address);
      return cidrContains(hostRange, parsed) && parsed !== hostRange.base;
    });
    if (namesSlot || slotAddress)
      found.push(`${kind} ${object.chain ?? object.name ?? ''} #${object.handle}: ${text}`);
  }
  return found.sort();
}

async function loopsUnder(stateDir: string): Promise<string[]> {
  const document = (await json(['losetup', '-J', '-l'])) as {
    loopdevices?: { name: string; 'back-file'?: string }[];
  };
  return (document.loopdevices ?? [])
    .filter((loop) => loop['back-file']?.startsWith(`${stateDir}/`))
    .map((loop) => `${loop.name} -> ${loop['back-file']}`)
    .sort();
}

/** Pids (and command lines) of processes whose command line names `dir`, except `except`. */
export async function processesUnder(dir: string, except: ReadonlySet<number>): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || except.has(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) found.set(pid, cmdline.split('\0').filter(Boolean).join(' ').slice(0, 300));
  }
  return found;
}

async function processesNaming(stateDir: string, pids: ReadonlySet<number>): Promise<string[]> {
  return [...(await processesUnder(stateDir, pids))].map(([pid, cmdline]) => `${pid}: ${cmdline}`);
}
