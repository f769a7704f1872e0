import { type CommandRunner, defaultRunner } from '../exec/command-runner.ts';
import { runTolerating } from './command.ts';
import { listNetns, readLinks, readRoutes } from './inspect.ts';
import { cidrContains, parseCidr, parseIpv4 } from './ipv4.ts';
import type { NetworkConfig } from './network-config.ts';
import { slotOfName } from './slot-layout.ts';

/** What a sweep removed. */
export interface SweepResult {
  namespaces: string[];
  links: string[];
  /** Host routes, as their destination address. */
  routes: string[];
}

/** The slot a host route's destination belongs to (a /32 inside hostRange), or undefined. */
function slotOfRoute(dst: string, config: NetworkConfig): number | undefined {
  const bare = dst.endsWith('/32') ? dst.slice(0, -3) : dst;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(bare)) return undefined;
  const range = parseCidr(config.hostRange);
  const address = parseIpv4(bare);
  return cidrContains(range, address) ? address - range.base : undefined;
}

/**
 * Startup sweep: removes this prefix's namespaces, host veths and host routes whose slot is
 * not in `ownedSlots` (left by a crash or a previous run), keeping the owned ones. It never
 * touches the host table: that is the host's guard (forward, input, masquerade), built before
 * any slot is owned, and only removeHostNetwork takes it away.
 */
export async function sweepNetwork(
  config: NetworkConfig,
  ownedSlots: ReadonlySet<number>,
  runner: CommandRunner = defaultRunner,
): Promise<SweepResult> {
  const stray = (slot: number | undefined): boolean => slot !== undefined && !ownedSlots.has(slot);
  const [routes, links, namespaces] = await Promise.all([
    readRoutes(runner, []),
    readLinks(runner),
    listNetns(runner),
  ]);
  const result: SweepResult = { namespaces: [], links: [], routes: [] };

  const strayRoutes = (routes ?? []).filter((route) => stray(slotOfRoute(route.dst, config)));
  await Promise.all(
    strayRoutes.map(async (route) => {
      const dst = route.dst.endsWith('/32') ? route.dst : `${route.dst}/32`;
      const dev = route.dev === undefined ? [] : ['dev', route.dev];
      // Absent by now is fine: deleting its veth may have taken it.
      if ((await runTolerating(runner, ['ip', 'route', 'del', dst, ...dev])) !== undefined) {
        result.routes.push(route.dst);
      }
    }),
  );
  const strayLinks = [...(links?.keys() ?? [])].filter((name) => stray(slotOfName(name, 'veth', config)));
  await Promise.all(
    strayLinks.map(async (name) => {
      if ((await runTolerating(runner, ['ip', 'link', 'del', name])) !== undefined) result.links.push(name);
    }),
  );
  const strayNamespaces = namespaces.filter((name) => stray(slotOfName(name, 'ns', config)));
  await Promise.all(
    strayNamespaces.map(async (name) => {
      if ((await runTolerating(runner, ['ip', 'netns', 'del', name])) !== undefined) {
        result.namespaces.push(name);
      }
    }),
  );
  for (const list of [result.namespaces, result.links, result.routes]) list.sort();
  return result;
}
