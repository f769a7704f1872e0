import type { CommandRunner } from '../../exec/command-runner.ts';
import { ABSENT, type BatchResult, ipJsonBatch } from '../command.ts';
import {
  type LinkState,
  parseIpv4Forwarding,
  parseLinks,
  parseNetnsList,
  parseRoutes,
  type RouteState,
  readNftTable,
} from '../inspect.ts';
import { NetworkError } from '../network-error.ts';
import { summarizeNft } from '../nft-summary.ts';
import type { SlotLayout } from '../slot-layout.ts';

/** What is already built for one slot, read from the kernel before ensureNetwork acts. */
export interface SlotState {
  netns: boolean;
  hostVeth: LinkState | undefined;
  /** Host routes to the slot's host address. */
  hostRoutes: RouteState[];
  /** Interfaces inside the namespace by name (empty when it does not exist). */
  nsLinks: Map<string, LinkState>;
  nsDefaultRoutes: RouteState[];
  nsForwarding: boolean;
  /** summarizeNft of the namespace NAT table; undefined when absent. */
  nsNat: string[] | undefined;
}

/** The state of a namespace that was just created: only a loopback that is down. */
export function freshNamespaceState(state: SlotState): void {
  state.netns = true;
  state.nsLinks = new Map([['lo', { name: 'lo', up: false, addresses: [] }]]);
  state.nsDefaultRoutes = [];
  state.nsForwarding = false;
  state.nsNat = undefined;
}

/** Throws unless the batch ran every line, or stopped at `absentLine` because its object is absent. */
function checkBatch(what: string, batch: BatchResult, absentLine?: number): void {
  const { failed } = batch;
  if (failed === undefined || (failed.line === absentLine && ABSENT.test(failed.stderr))) return;
  throw new NetworkError(`${what}: line ${failed.line} failed: ${failed.stderr.trim()}`, { what, ...failed });
}

/** Host side in one `ip -batch` (the veth last: when it is absent, its line is the one that fails). */
async function readHostSide(layout: SlotLayout, runner: CommandRunner) {
  const batch = await ipJsonBatch(runner, undefined, [
    ['netns', 'list'],
    ['route', 'show', 'exact', `${layout.hostIp}/32`],
    ['addr', 'show', 'dev', layout.hostVeth],
  ]);
  if (batch === undefined) throw new NetworkError('host network state: ip batch found no namespace');
  checkBatch('host network state', batch, 3);
  const [netns = '', routes = '', veth] = batch.outputs;
  return {
    netns: parseNetnsList(netns).includes(layout.netns),
    hostRoutes: parseRoutes(routes),
    hostVeth: veth === undefined ? undefined : parseLinks(veth).get(layout.hostVeth),
  };
}

/** Namespace side: links, default route and forwarding in one `ip -n NS -batch`, NAT table via nft. */
async function readNamespaceSide(layout: SlotLayout, runner: CommandRunner) {
  const [batch, nat] = await Promise.all([
    ipJsonBatch(runner, layout.netns, [
      ['addr', 'show'],
      ['route', 'show', 'default'],
      ['netconf', 'show'],
    ]),
    readNftTable(runner, 'ip', layout.natTable, layout.netns),
  ]);
  if (batch === undefined) return undefined;
  checkBatch(`state of ${layout.netns}`, batch);
  const [links = '', routes = '', netconf = ''] = batch.outputs;
  return {
    nsLinks: parseLinks(links),
    nsDefaultRoutes: parseRoutes(routes),
    nsForwarding: parseIpv4Forwarding(netconf),
    nsNat: nat === undefined ? undefined : summarizeNft(nat),
  };
}

/** Reads everything the slot's steps look at: host side first, then inside the namespace. */
export async function readSlotState(layout: SlotLayout, runner: CommandRunner): Promise<SlotState> {
  const host = await readHostSide(layout, runner);
  const empty = { nsLinks: new Map(), nsDefaultRoutes: [], nsForwarding: false, nsNat: undefined };
  if (!host.netns) return { ...host, ...empty };
  // A namespace deleted between the two reads reads as absent: the steps rebuild it.
  const inside = await readNamespaceSide(layout, runner);
  return inside === undefined ? { ...host, ...empty, netns: false } : { ...host, ...inside };
}
