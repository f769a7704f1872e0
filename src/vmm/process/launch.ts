import { mkdir, open } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { CommandError, ErrorCode, HangarError, ValidationError } from '../../errors/index.ts';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.ts';
import { watchChildExit } from './exit-watch.ts';
import { type PidfileRecord, writePidfile } from './pidfile.ts';
import { readStat } from './proc.ts';
import { VmmProcess } from './vmm-process.ts';

const AbsolutePath = z.string().refine(isAbsolute, 'must be an absolute path');

/** How to start one VMM process. */
export const LaunchSpec = z
  .object({
    /** The full command line, wrappers (ip netns exec, unshare) included. */
    argv: z
      .array(z.string())
      .min(1)
      .refine((argv) => argv[0] !== '', 'argv[0] must not be empty'),
    /** Added to the worker's environment. */
    env: z.record(z.string(), z.string()).optional(),
    cwd: AbsolutePath.optional(),
    /** stdout and stderr are appended here. */
    outputPath: AbsolutePath,
    pidfilePath: AbsolutePath,
    /** A string in argv that names this VMM (the API socket path): re-attach looks for it. */
    identity: z.string().min(1),
    /** The VMM's own log file, shown in crash log tails (CH --log-file). */
    extraLogPath: AbsolutePath.optional(),
  })
  .refine((spec) => spec.argv.some((arg) => arg.includes(spec.identity)), {
    message: 'must appear in argv, or the process could never be recognised on re-attach',
    path: ['identity'],
  });

export type LaunchSpec = z.input<typeof LaunchSpec>;

// execa forwards any descriptor number straight to child_process (lib/stdio/handle.js only
// checks it is a 32-bit fd), but its types list just 0-9 for stdout and stderr.
const asFd = (fd: number) => fd as unknown as 1;

// Its own session and process group (setsid), output straight into the file: nothing of
// the VMM's I/O passes through the worker, so the worker may die without touching it.
function spawnDetached(
  file: string,
  args: string[],
  outputFd: number,
  env: Record<string, string> | undefined,
  cwd: string | undefined,
) {
  return execa(file, args, {
    detached: true,
    cleanup: false,
    reject: false,
    stdin: 'ignore',
    stdout: asFd(outputFd),
    stderr: asFd(outputFd),
    env,
    extendEnv: true,
    cwd,
  });
}

/**
 * Starts a VMM detached in its own session and process group, so a worker restart leaves
 * it running, with its output appended to `outputPath`, and records it in an atomic pidfile.
 * The child handle is unref'd: the worker may exit while VMs run, yet a live worker still
 * hears the exit (code and signal) through the crash watcher. A worker killed between the
 * spawn and the pidfile's rename leaves a VMM no pidfile names: its command line names its
 * runtime directory, and findVmmProcessesIn() finds it by that (SandboxProcess does).
 */
export async function launchDetached(spec: LaunchSpec, logger: Logger = silentLogger): Promise<VmmProcess> {
  const parsed = LaunchSpec.safeParse(spec);
  if (!parsed.success) throw ValidationError.fromZod('VMM launch spec', parsed.error);
  const { argv, env, cwd, outputPath, pidfilePath, identity, extraLogPath } = parsed.data;
  const [file, ...args] = argv as [string, ...string[]];
  // Only the directories made here get 0700: an existing one is the caller's to decide.
  await mkdir(dirname(outputPath), { recursive: true, mode: PRIVATE_DIR_MODE });
  await mkdir(dirname(pidfilePath), { recursive: true, mode: PRIVATE_DIR_MODE });

  const output = await open(outputPath, 'a', PRIVATE_FILE_MODE);
  const startedAt = new Date();
  let child: ReturnType<typeof spawnDetached>;
  let procStartTime: number | undefined;
  try {
    child = spawnDetached(file, args, output.fd, env, cwd);
    // Read before any await: even a child that died at once is an unreaped zombie until then.
    procStartTime = child.pid === undefined ? undefined : readStat(child.pid)?.startTime;
  } finally {
    // The child holds its own copy of the descriptor.
    await output.close();
  }

  if (child.pid === undefined) {
    const result = await child;
    throw new CommandError(argv, undefined, result.message ?? 'the VMM process could not be spawned', result);
  }
  const pid = child.pid;
  if (procStartTime === undefined) {
    throw new HangarError(ErrorCode.Internal, `VMM pid ${pid} vanished from /proc right after spawn`);
  }

  const record: PidfileRecord = {
    pid,
    startedAt: startedAt.toISOString(),
    argv,
    identity,
    procStartTime,
    outputPath,
    ...(extraLogPath === undefined ? {} : { extraLogPath }),
  };
  try {
    await writePidfile(pidfilePath, record);
  } catch (error) {
    // A VMM nobody can find again must not be left running.
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    throw error;
  }
  child.nodeChildProcess.unref();
  logger.info({ pid, argv, pidfilePath }, 'VMM process launched');
  return new VmmProcess({
    pid,
    argv,
    startedAt,
    procStartTime,
    identity,
    attached: 'child',
    watch: watchChildExit(child.nodeChildProcess),
    outputPath,
    ...(extraLogPath === undefined ? {} : { extraLogPath }),
    logger,
  });
}
