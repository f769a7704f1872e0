import { unlinkSync } from 'node:fs';
import { lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { SimApiServer } from './api-server.ts';
import { parseSimArgs, type SimArgs, SimUsageError } from './cli-args.ts';
import { createEventSink } from './events.ts';
import { describeFaults } from './faults.ts';
import { createSimLog, type SimLog } from './sim-log.ts';
import { SimVmm } from './state-machine.ts';

/** What `--version` prints: CH's format, so version parsers accept it, marked as the simulator. */
export const SIM_VERSION_LINE = 'cloud-hypervisor v53.0.0-hangar-sim';

const USAGE = `hangar-ch-sim: the hangar Cloud Hypervisor API simulator (a stand-in, not a VMM)
usage: hangar-ch-sim --api-socket path=/abs/sock [--log-file PATH] [-v...] [--event-monitor path=PATH]
       [--restore source_url=file:///dir[,prefault=on|off][,memory_restore_mode=copy|ondemand][,resume=true|false]]
       [--sim-latency boot=MS,pause=MS,resume=MS,snapshot=MS,snapshot_per_gib=MS,restore=MS,shutdown=MS]
       [--sim-fault exit-at=EP,hang-at=EP,fail-once-at=EP,ignore-sigterm]   (env HANGAR_SIM_LATENCY, HANGAR_SIM_FAULT)
`;

/**
 * Runs the simulator: CH's command line and REST API with its state machine, status codes
 * and snapshot files, and no guest. Exits 2 on a bad command line, as CH does.
 */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env = process.env,
): Promise<void> {
  let args: SimArgs;
  try {
    args = parseSimArgs(argv, env);
  } catch (error) {
    if (!(error instanceof SimUsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.version) {
    process.stdout.write(`${SIM_VERSION_LINE}\n`);
    return;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const log = createSimLog(args.logFile, args.verbosity);
  log.always(
    `hangar CH simulator ${SIM_VERSION_LINE} starting: a stand-in for Cloud Hypervisor, not a VMM (no guest runs); ` +
      `api socket ${args.apiSocket}; faults ${describeFaults(args.faults)}`,
  );
  const events = createEventSink(args.eventMonitor);
  let removeSocket = false;
  const exit = (code: number) => {
    if (removeSocket) unlinkQuietly(args.apiSocket);
    log.info(`exiting with code ${code}`);
    process.exit(code);
  };
  installSignalHandlers(args, log, () => removeSocket && unlinkQuietly(args.apiSocket));
  process.on('uncaughtException', (error) => {
    log.error(`uncaught: ${error.stack ?? error.message}`);
    process.exit(1);
  });

  const server = new SimApiServer({
    vmm: new SimVmm(),
    faults: args.faults,
    latency: args.latency,
    log,
    events,
    exit,
  });
  await removeStaleSocket(args.apiSocket);
  await server.listen(args.apiSocket);
  removeSocket = true;
  events('vmm', 'starting');
  log.info(`API server listening on ${args.apiSocket}`);
  const restore = args.restore;
  if (restore !== undefined) {
    // Like CH: the API is up at once, and calls wait until the restore has finished.
    server
      .enqueue(() => server.restore(restore))
      .catch((error: unknown) => {
        log.error(
          `restore from ${restore.source_url} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        exit(1);
      });
  }
}

// SIGTERM and SIGINT end the process like CH: socket removed, then the default action so
// the exit shows the signal. ignore-sigterm keeps SIGTERM from doing anything.
function installSignalHandlers(args: SimArgs, log: SimLog, cleanup: () => void): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const handler = () => {
      if (signal === 'SIGTERM' && args.faults.ignoreSigterm) {
        log.warn('fault ignore-sigterm: ignoring SIGTERM');
        return;
      }
      log.info(`received ${signal}, exiting`);
      cleanup();
      process.removeListener(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

// A socket file left by a dead process is removed; one a live process answers on is not ours.
async function removeStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return;
  if (!info.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${path} is in use by a running process`);
  await unlink(path);
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
