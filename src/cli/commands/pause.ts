import type { Command } from 'commander';
import { registerSandboxOp } from './sandbox-op.ts';

/** `hangar pause <id>`: the VM stops running; its memory stays in the VMM. */
export function registerPause(program: Command): void {
  registerSandboxOp(program, 'pause', 'pause a running sandbox (its memory stays in the VMM)', (client, id) =>
    client.pause(id),
  );
}
