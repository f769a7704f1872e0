import { z } from 'zod';
import type { CommandRunner } from '../exec/command-runner.ts';
import { ipArgs, runTolerating } from './command.ts';
import { NetworkError } from './network-error.ts';

/** Parses one command's JSON output with a schema; empty output counts as `empty`. */
function parseJson<T>(what: string, schema: z.ZodType<T>, text: string, empty: T): T {
  if (text.trim() === '') return empty;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new NetworkError(`${what}: output is not JSON`, { what, output: text.slice(0, 500) }, error);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new NetworkError(
      `${what}: unexpected JSON shape`,
      { what, issues: parsed.error.issues },
      parsed.error,
    );
  }
  return parsed.data;
}

const NetnsList = z.array(z.object({ name: z.string() }));

/** Namespace names from `ip -j netns list`. */
export function parseNetnsList(text: string): string[] {
  return parseJson('ip -j netns list', NetnsList, text, []).map((entry) => entry.name);
}

/** One interface as `ip -j addr` shows it, reduced to what the network steps look at. */
export interface LinkState {
  name: string;
  up: boolean;
  /** IPv4 addresses as "a.b.c.d/n". */
  addresses: string[];
}

const AddrList = z.array(
  z.object({
    ifname: z.string(),
    flags: z.array(z.string()).default([]),
    addr_info: z
      .array(z.object({ family: z.string(), local: z.string(), prefixlen: z.number() }).partial())
      .default([]),
  }),
);

/** Interfaces by name from `ip -j addr show`. */
export function parseLinks(text: string): Map<string, LinkState> {
  const links = new Map<string, LinkState>();
  for (const link of parseJson('ip -j addr show', AddrList, text, [])) {
    const addresses = link.addr_info
      .filter((info) => info.family === 'inet')
      .map((info) => `${info.local}/${info.prefixlen}`);
    links.set(link.ifname, { name: link.ifname, up: link.flags.includes('UP'), addresses });
  }
  return links;
}

/** One route as `ip -j route` shows it. */
export interface RouteState {
  dst: string;
  gateway?: string | undefined;
  dev?: string | undefined;
}

const RouteList = z.array(
  z.object({ dst: z.string(), gateway: z.string().optional(), dev: z.string().optional() }),
);

/** Routes from `ip -j route show`. */
export function parseRoutes(text: string): RouteState[] {
  return parseJson('ip -j route show', RouteList, text, []);
}

const NetconfList = z.array(
  z.object({ family: z.string(), interface: z.string(), forwarding: z.boolean().optional() }),
);

/** Whether net.ipv4.ip_forward is on, from `ip -j netconf show` (its "all" entry). */
export function parseIpv4Forwarding(text: string): boolean {
  const all = parseJson('ip -j netconf show', NetconfList, text, []).find(
    (entry) => entry.family === 'inet' && entry.interface === 'all',
  );
  return all?.forwarding === true;
}

/** Names of the host's named network namespaces. */
export async function listNetns(runner: CommandRunner): Promise<string[]> {
  const { stdout } = await runner.run('ip', ['-j', 'netns', 'list']);
  return parseNetnsList(stdout);
}

/** Interfaces on the host or in `netns`; undefined when the namespace does not exist. */
export async function readLinks(
  runner: CommandRunner,
  netns?: string,
): Promise<Map<string, LinkState> | undefined> {
  const stdout = await runTolerating(runner, ipArgs(netns, '-j', 'addr', 'show'));
  return stdout === undefined ? undefined : parseLinks(stdout);
}

/** Main-table routes matching `selector` (e.g. ['default']); undefined when `netns` is absent. */
export async function readRoutes(
  runner: CommandRunner,
  selector: string[],
  netns?: string,
): Promise<RouteState[] | undefined> {
  const stdout = await runTolerating(runner, ipArgs(netns, '-j', 'route', 'show', ...selector));
  return stdout === undefined ? undefined : parseRoutes(stdout);
}

const NftDocument = z.object({ nftables: z.array(z.record(z.string(), z.unknown())) });

/** The `nft -j` objects of one table (metainfo dropped), or undefined when it is absent. */
export async function readNftTable(
  runner: CommandRunner,
  family: 'ip' | 'inet',
  table: string,
  netns?: string,
): Promise<Record<string, unknown>[] | undefined> {
  const nft: [string, ...string[]] = ['nft', '-j', 'list', 'table', family, table];
  // nft has no namespace option: enter the namespace to read its tables.
  const argv: [string, ...string[]] = netns === undefined ? nft : ['ip', 'netns', 'exec', netns, ...nft];
  const stdout = await runTolerating(runner, argv);
  if (stdout === undefined) return undefined;
  return parseJson(argv.join(' '), NftDocument, stdout, { nftables: [] }).nftables.filter(
    (entry) => !('metainfo' in entry),
  );
}
