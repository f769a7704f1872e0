import type { Command } from 'commander';
import { registerSandboxOp } from './sandbox-op.ts';

/** `hangar destroy <id>`: stop the VM and free its disk, network slot and records on the host. */
export function registerDestroy(program: Command): void {
  registerSandboxOp(
    program,
    'destroy',
    'destroy a sandbox: stop its VM, remove its disk and free its network slot',
    (client, id) => client.destroy(id),
  );
}
