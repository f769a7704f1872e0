import {
  chmod,
  copyFile,
  constants as fsConstants,
  link,
  mkdir,
  readFile,
  rm,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../../errors/index.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.ts';
import type { VmSpec } from '../vm-spec.ts';
import { ReportedVmConfig, type VmConfig } from './schemas/index.ts';

/** The files CH writes into a snapshot directory; a restore needs all three. */
export const SNAPSHOT_FILES = ['config.json', 'state.json', 'memory-ranges'] as const;

/**
 * Prepares `stagingDir` so CH restores `snapshotDir` as *this* sandbox. A snapshot's
 * config.json names the disk, kernel and serial paths of the sandbox it was taken from;
 * we rewrite them (cocoon's way) rather than faking paths in a mount namespace, so a
 * snapshot restores into any sandbox and stays immutable. The memory file is hard-linked
 * (or reflinked/copied across file systems), never modified. The staging directory is
 * 0700 and what we write into it 0600: it holds guest memory.
 */
export async function stageRestore(
  snapshotDir: string,
  stagingDir: string,
  spec: VmSpec,
  serialLogPath: string,
): Promise<VmConfig> {
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const raw = await readSnapshotConfig(snapshotDir);
  const config = rewriteConfigForSandbox(raw, spec, serialLogPath);
  await writeFile(join(stagingDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`, {
    mode: PRIVATE_FILE_MODE,
  });
  for (const name of ['state.json', 'memory-ranges'] as const) {
    await linkOrCopy(join(snapshotDir, name), join(stagingDir, name));
  }
  return config;
}

/** Reads and validates a snapshot's config.json. */
export async function readSnapshotConfig(snapshotDir: string): Promise<VmConfig> {
  let text: string;
  try {
    text = await readFile(join(snapshotDir, 'config.json'), 'utf8');
  } catch (error) {
    throw new ValidationError(`snapshot ${snapshotDir} has no readable config.json`, { snapshotDir }, error);
  }
  const parsed = ReportedVmConfig.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw ValidationError.fromZod(`snapshot config ${snapshotDir}/config.json`, parsed.error);
  return parsed.data;
}

/**
 * Points a snapshot's config at this sandbox's disk, kernel, initramfs, serial log and TAP.
 * CPU count, memory size and device ids stay: they are part of the saved device state.
 */
export function rewriteConfigForSandbox(config: VmConfig, spec: VmSpec, serialLogPath: string): VmConfig {
  const disks = config.disks ?? [];
  if (disks.length !== 1) {
    throw new ValidationError(`snapshot config has ${disks.length} disks; hangar snapshots have exactly one`);
  }
  return {
    ...config,
    payload: {
      ...config.payload,
      kernel: spec.kernelPath,
      ...(spec.initramfsPath === undefined ? {} : { initramfs: spec.initramfsPath }),
    },
    disks: disks.map((disk) => ({ ...disk, path: spec.diskPath })),
    net: (config.net ?? []).map((net) => ({ ...net, tap: spec.tap, mac: spec.mac })),
    serial: { ...config.serial, mode: 'File', file: serialLogPath },
  };
}

// A hard link shares the snapshot's inode and mode (0600 for snapshots we wrote); a copy takes
// the source's mode, so it is set explicitly.
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await copyFile(from, to, fsConstants.COPYFILE_FICLONE);
    await chmod(to, PRIVATE_FILE_MODE);
  }
}
