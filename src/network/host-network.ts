import { type CommandRunner, defaultRunner } from '../exec/command-runner.ts';
import { runTolerating } from './command.ts';
import { readNftTable, readRoutes } from './inspect.ts';
import type { NetworkConfig } from './network-config.ts';
import { expectedHostSummary, hostRuleset, hostTableName } from './nft-rules.ts';
import { summarizeNft } from './nft-summary.ts';

/** The interface sandbox traffic leaves through: config.uplink, else the default route's, else none. */
export async function resolveUplink(
  config: NetworkConfig,
  runner: CommandRunner = defaultRunner,
): Promise<string | undefined> {
  if (config.uplink !== undefined) return config.uplink;
  const routes = await readRoutes(runner, ['default']);
  return routes?.find((route) => route.dev !== undefined)?.dev;
}

/**
 * Once per host: IPv4 forwarding on, and the `inet <prefix>` table (forward guard and
 * masquerade) built or replaced atomically when it differs. Idempotent: a second call only reads.
 */
export async function ensureHostNetwork(
  config: NetworkConfig,
  runner: CommandRunner = defaultRunner,
): Promise<void> {
  const forwarding = await runner.run('sysctl', ['-n', 'net.ipv4.ip_forward']);
  if (forwarding.stdout.trim() !== '1') {
    await runner.run('sysctl', ['-w', 'net.ipv4.ip_forward=1']);
  }
  const uplink = await resolveUplink(config, runner);
  const current = await readNftTable(runner, 'inet', hostTableName(config));
  const wanted = expectedHostSummary(config, uplink);
  if (current !== undefined && summarizeNft(current).join('\n') === wanted.join('\n')) return;
  await runner.run('nft', ['-f', '-'], { input: hostRuleset(config, uplink) });
}

/**
 * Deletes the host table (absent is fine) and says whether it was there: the only way it
 * goes (sweepNetwork never removes it), when the host stops running sandboxes. Leaves
 * ip_forward on: other software on the host may rely on it, and turning it off is not ours to decide.
 */
export async function removeHostNetwork(
  config: NetworkConfig,
  runner: CommandRunner = defaultRunner,
): Promise<boolean> {
  const deleted = await runTolerating(runner, ['nft', 'delete', 'table', 'inet', hostTableName(config)]);
  return deleted !== undefined;
}
