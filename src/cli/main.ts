import { Command } from 'commander';
import { HangarError } from '../errors/index.ts';
import { registerVmmDemo } from './commands/vmm-demo.ts';

/** Builds the `hangar` command line; each command lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('hangar')
    .description('hangar: a BullMQ worker fleet that runs microVM sandboxes (Cloud Hypervisor, QEMU)')
    .showHelpAfterError();
  registerVmmDemo(program);
  return program;
}

/** Runs the CLI; a HangarError prints its code and message instead of a stack. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof HangarError) {
      console.error(`hangar: ${error.code}: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}
