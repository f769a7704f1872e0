import { type Command, Option } from 'commander';

/** The worker config's `network` fields that flags and environment can set. */
export interface NetworkFlags {
  networkPrefix?: string;
  vethRange?: string;
  hostRange?: string;
}

/**
 * Adds --network-prefix, --veth-range and --host-range (env HANGAR_NETWORK_PREFIX,
 * HANGAR_VETH_RANGE, HANGAR_HOST_RANGE). Hidden where only tests need them (the demo).
 */
export function addNetworkOptions(command: Command, options: { hidden?: boolean } = {}): Command {
  const add = (option: Option) => command.addOption(options.hidden ? option.hideHelp() : option);
  add(
    new Option(
      '--network-prefix <prefix>',
      'names of network objects: <prefix>-ns-N, table inet <prefix>',
    ).env('HANGAR_NETWORK_PREFIX'),
  );
  add(
    new Option('--veth-range <cidr>', 'a /31 per slot for the veth pairs (default 10.12.0.0/16)').env(
      'HANGAR_VETH_RANGE',
    ),
  );
  add(
    new Option('--host-range <cidr>', 'sandbox addresses reachable from the host (default 10.11.0.0/16)').env(
      'HANGAR_HOST_RANGE',
    ),
  );
  return command;
}

/** The network config part from those flags (only what was given; the worker validates it). */
export function networkFromFlags(flags: NetworkFlags): Record<string, unknown> {
  return {
    ...(flags.networkPrefix === undefined ? {} : { prefix: flags.networkPrefix }),
    ...(flags.vethRange === undefined ? {} : { vethRange: flags.vethRange }),
    ...(flags.hostRange === undefined ? {} : { hostRange: flags.hostRange }),
  };
}
