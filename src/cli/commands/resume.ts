import type { Command } from 'commander';
import { registerSandboxOp } from './sandbox-op.ts';

/** `hangar resume <id>`: a paused VM runs again. */
export function registerResume(program: Command): void {
  registerSandboxOp(program, 'resume', 'resume a paused sandbox', (client, id) => client.resume(id));
}
