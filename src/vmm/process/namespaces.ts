import { ValidationError } from '../../errors/index.ts';

// hangar's own names (hangar-ns-<slot>) and any other short, shell- and path-safe name.
const NETNS_PATTERN = /^[a-z0-9][a-z0-9-]{0,30}$/;

function assertArgv(argv: readonly string[]): void {
  if (argv.length === 0 || argv[0] === '') throw new ValidationError('argv must name a program', { argv });
}

/** Checks a network namespace name before it reaches `ip netns`. */
export function assertNetnsName(netns: string): string {
  if (!NETNS_PATTERN.test(netns)) {
    throw new ValidationError(
      `invalid netns ${JSON.stringify(netns)}: must be 1-31 chars of a-z, 0-9 and dashes, not starting with a dash`,
      { field: 'netns', value: netns },
    );
  }
  return netns;
}

/**
 * Runs `argv` inside the named network namespace. `ip netns exec` switches namespaces and
 * then execs (no fork), so the pid, process group and command line stay the VMM's own.
 */
export function inNetns(argv: readonly string[], netns: string): string[] {
  assertArgv(argv);
  return ['ip', 'netns', 'exec', assertNetnsName(netns), ...argv];
}

/**
 * Runs `argv` in a new mount namespace whose mounts do not propagate back to the host;
 * `unshare` without --fork execs in place, so the pid stays the VMM's.
 */
export function inPrivateMountNs(argv: readonly string[]): string[] {
  assertArgv(argv);
  return ['unshare', '--mount', '--propagation', 'private', ...argv];
}

/**
 * Wraps `argv` in the namespaces asked for: the netns switch outermost (it needs the host's
 * /run/netns), the private mount namespace inside it.
 */
export function inNamespaces(
  argv: readonly string[],
  options: { netns?: string; privateMounts?: boolean },
): string[] {
  const inner = options.privateMounts ? inPrivateMountNs(argv) : [...argv];
  return options.netns === undefined ? inner : inNetns(inner, options.netns);
}
