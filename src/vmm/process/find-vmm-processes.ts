import { readdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { ValidationError } from '../../errors/index.ts';
import { Identifier } from '../../validation/identifiers.ts';
import { readCmdline, readStartTime } from './proc.ts';

/** A VMM process found through /proc, with the sandbox whose runtime directory its command line names. */
export interface FoundVmm {
  sandboxId: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat; absent when the process ended while we looked. */
  startTime?: number;
  argv: string[];
}

// The real VMMs by executable name; the simulator by its script (run by node or through its shebang).
const VMM_PROGRAM = /^(cloud-hypervisor|qemu-system-[A-Za-z0-9_]+)$/;
const SIMULATOR_SCRIPT = /^hangar-ch-sim(\.ts|\.js)?$/;
const NODE_PROGRAM = /^node[0-9]*$/;

// `ip netns exec NS` and `unshare --mount --propagation private` exec the VMM in place, but a
// process caught in between still shows the wrapper's command line.
function unwrap(argv: readonly string[]): readonly string[] {
  let rest = argv;
  if (basename(rest[0] ?? '') === 'ip' && rest[1] === 'netns' && rest[2] === 'exec') rest = rest.slice(4);
  if (basename(rest[0] ?? '') === 'unshare') {
    rest = rest.slice(1);
    while (rest[0]?.startsWith('-')) rest = rest.slice(rest[0] === '--propagation' ? 2 : 1);
  }
  return rest;
}

/** The VMM's own arguments (program left out) when `argv` runs a VMM hangar launches, else undefined. */
export function vmmArguments(argv: readonly string[]): string[] | undefined {
  const command = unwrap(argv);
  const program = basename(command[0] ?? '');
  if (VMM_PROGRAM.test(program) || SIMULATOR_SCRIPT.test(program)) return command.slice(1);
  if (!NODE_PROGRAM.test(program)) return undefined;
  const script = command.findIndex((arg, index) => index > 0 && !arg.startsWith('-'));
  const scriptPath = command[script];
  return script > 0 && scriptPath !== undefined && SIMULATOR_SCRIPT.test(basename(scriptPath))
    ? command.slice(script + 1)
    : undefined;
}

/**
 * The names of `root`'s subdirectories that paths in `args` lie under, in order. A path counts
 * where it starts an argument or follows CH's and QEMU's option syntax (`path=`, `file:`,
 * `unix:`, `,`, `file://`), so `/x/<root>/...` is not taken for one under `<root>`.
 */
function runtimeDirNames(args: readonly string[], root: string): string[] {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  const names: string[] = [];
  for (const arg of args) {
    for (let at = arg.indexOf(prefix); at !== -1; at = arg.indexOf(prefix, at + 1)) {
      const before = arg.slice(0, at);
      if (before !== '' && !/[=:,]$/.test(before) && !before.endsWith('file://')) continue;
      const rest = arg.slice(at + prefix.length);
      const slash = rest.indexOf('/');
      if (slash > 0) names.push(rest.slice(0, slash));
    }
  }
  return names;
}

function checkedRoot(path: string, field: string): string {
  const root = resolve(path);
  if (!isAbsolute(path) || root === '/') {
    throw new ValidationError(`${field} must be an absolute path below /: ${path}`, { field, value: path });
  }
  return root;
}

// Every live VMM process on the host with its arguments; a process gone mid-scan is skipped.
async function scanVmms(): Promise<{ pid: number; argv: string[]; args: string[] }[]> {
  const found: { pid: number; argv: string[]; args: string[] }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const argv = readCmdline(pid);
    const args = argv === undefined ? undefined : vmmArguments(argv);
    if (argv !== undefined && args !== undefined) found.push({ pid, argv, args });
  }
  return found;
}

function describe(vmm: { pid: number; argv: string[] }, sandboxId: string): FoundVmm {
  const startTime = readStartTime(vmm.pid);
  return { sandboxId, pid: vmm.pid, argv: vmm.argv, ...(startTime === undefined ? {} : { startTime }) };
}

function bySandboxThenPid(a: FoundVmm, b: FoundVmm): number {
  return a.sandboxId === b.sandboxId ? a.pid - b.pid : a.sandboxId < b.sandboxId ? -1 : 1;
}

/**
 * Every VMM process (cloud-hypervisor, qemu-system-*, the CH simulator) whose command line
 * names a path under `<runRoot>/<sandboxId>/`, the sandbox being the first valid identifier
 * so named: VMMs found without their pidfile, for re-attach and for the startup reconcile.
 */
export async function findVmmProcesses(runRoot: string): Promise<FoundVmm[]> {
  const root = checkedRoot(runRoot, 'runRoot');
  const found: FoundVmm[] = [];
  for (const vmm of await scanVmms()) {
    const sandboxId = runtimeDirNames(vmm.args, root).find((name) => Identifier.safeParse(name).success);
    if (sandboxId !== undefined) found.push(describe(vmm, sandboxId));
  }
  return found.sort(bySandboxThenPid);
}

/** Every VMM process whose command line names a path under `runtimeDir`/ (one sandbox's runtime dir). */
export async function findVmmProcessesIn(runtimeDir: string): Promise<FoundVmm[]> {
  const dir = checkedRoot(runtimeDir, 'runtimeDir');
  const parent = dirname(dir);
  const name = basename(dir);
  const found = (await scanVmms())
    .filter((vmm) => runtimeDirNames(vmm.args, parent).includes(name))
    .map((vmm) => describe(vmm, name));
  return found.sort(bySandboxThenPid);
}
