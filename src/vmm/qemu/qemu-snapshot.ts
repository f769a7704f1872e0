import { NotFoundError } from '../../errors/index.ts';
import { isCompleteSnapshot } from '../snapshot-dir.ts';
import { assertShellSafePath, MEMORY_FILE } from './migration-uri.ts';
import { readSpecFile, SPEC_FILE, type SpecRecord } from './spec-file.ts';

/** The files of a complete QEMU snapshot: the migration stream and the machine shape it needs. */
export const QEMU_SNAPSHOT_FILES = [MEMORY_FILE, SPEC_FILE] as const;

/**
 * The record of a complete QEMU snapshot in `dir` (vCPUs and memory a restore must use);
 * NotFoundError when the directory is missing or incomplete.
 */
export async function readSnapshotRecord(dir: string): Promise<SpecRecord> {
  assertShellSafePath(dir);
  const record = (await isCompleteSnapshot(dir, QEMU_SNAPSHOT_FILES)) ? await readSpecFile(dir) : undefined;
  if (record === undefined) throw new NotFoundError(`no complete QEMU snapshot in ${dir}`, { dir });
  return record;
}
