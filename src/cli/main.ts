import { inspect } from 'node:util';
import { Command } from 'commander';
import { HangarError } from '../errors/index.ts';
import { redact } from '../redis/redact.ts';
import { registerCreate } from './commands/create.ts';
import { registerDashboard } from './commands/dashboard.ts';
import { registerDemo } from './commands/demo.ts';
import { registerDestroy } from './commands/destroy.ts';
import { registerEvents } from './commands/events.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerLs } from './commands/ls.ts';
import { registerPause } from './commands/pause.ts';
import { registerRestore } from './commands/restore.ts';
import { registerResume } from './commands/resume.ts';
import { registerSnapshot } from './commands/snapshot.ts';
import { registerSnapshotBatch } from './commands/snapshot-batch.ts';
import { registerVmmDemo } from './commands/vmm-demo.ts';
import { registerWorker } from './commands/worker.ts';

const EXAMPLES = `
Every command that talks to the fleet takes --redis <url> (env REDIS_URL, default
redis://127.0.0.1:6379; rediss:// for TLS, with --redis-tls-ca, --redis-tls-cert and
--redis-tls-key or HANGAR_REDIS_TLS_CA/_CERT/_KEY), --prefix <keyPrefix> (env HANGAR_KEY_PREFIX,
default hangar) and --json. Commands that enqueue jobs sign them with the fleet's job key:
HANGAR_JOB_KEY (hex or base64) or --job-key-file <file>.

Examples:
  $ hangar demo --once                    # the whole fleet on this machine: worker, dashboard, a tour
  $ hangar worker --host-id host-a        # run this host's worker (as root)
  $ hangar dashboard --port 3000          # Bull Board at http://127.0.0.1:3000/admin/queues, fleet page at /fleet
  $ hangar create --template base --vcpus 2 --memory 1024 --label team=ml --wait
  $ hangar ls --label team=ml
  $ hangar snapshot sb-1234 --wait        # memory + disk; the sandbox keeps running
  $ hangar restore snap-5678 --id sb-copy --wait
  $ hangar snapshot-batch --label team=ml # snapshot every matching sandbox, with progress
  $ hangar events --follow                # each line starts with a position: resume with --after

Run 'hangar <command> --help' for a command's options.`;

/** Builds the `hangar` command line; each command lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('hangar')
    .description('hangar: a BullMQ worker fleet that runs microVM sandboxes (Cloud Hypervisor, QEMU)')
    .showHelpAfterError()
    .addHelpText('after', EXAMPLES);
  registerDemo(program);
  registerWorker(program);
  registerDashboard(program);
  registerCreate(program);
  registerLs(program);
  registerInspect(program);
  registerPause(program);
  registerResume(program);
  registerSnapshot(program);
  registerRestore(program);
  registerDestroy(program);
  registerSnapshotBatch(program);
  registerEvents(program);
  registerVmmDemo(program);
  return program;
}

/**
 * Runs the CLI; a HangarError prints its code and message instead of a stack. Anything else
 * prints in full, with every URL's password hidden (a library's error may quote a Redis URL).
 */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.exitCode = 1;
    if (error instanceof HangarError) console.error(`hangar: ${error.code}: ${redact(error.message)}`);
    else console.error(redact(inspect(error)));
  }
}
