import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CorruptStateError, NotFoundError } from '../../errors/index.ts';
import { PRIVATE_FILE_MODE } from '../private-files.ts';
import { isCompleteSnapshot } from '../snapshot-dir.ts';

/** The small state file of an in-process snapshot: the VM's shape and where its memory came from. */
export const STATE_FILE = 'vm.json';

/** The memory file: sparse, the guest's RAM size, a few blocks written, as the CH simulator writes it. */
export const MEMORY_FILE = 'memory';

/** Both files of a complete in-process snapshot. */
export const IN_PROCESS_SNAPSHOT_FILES = [STATE_FILE, MEMORY_FILE] as const;

const MIB = 1024 * 1024;
const BLOCK = 4096;

/** What vm.json holds: enough to restore the VM's shape and tell its snapshots apart. */
export const InProcessSnapshotState = z.object({
  standIn: z.literal('in-process'),
  note: z.string(),
  vmState: z.literal('paused'),
  sandboxId: z.string(),
  vcpus: z.number().int().min(1),
  memoryMib: z.number().int().min(1),
  diskPath: z.string(),
  /** Bumped by each boot and restore, so a restored VM says which memory it holds. */
  generation: z.number().int().min(1),
  bootedAt: z.iso.datetime(),
  snapshottedAt: z.iso.datetime(),
});
export type InProcessSnapshotState = z.infer<typeof InProcessSnapshotState>;

/** Writes vm.json and the sparse memory file into `dir` (a staging directory). */
export async function writeInProcessSnapshot(dir: string, state: InProcessSnapshotState): Promise<void> {
  await writeFile(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
  await writeMemoryFile(join(dir, MEMORY_FILE), state.memoryMib * MIB, state.generation);
}

/**
 * Reads a snapshot for restore: NotFoundError when a file is missing, CorruptStateError
 * (naming the file) when vm.json does not parse or the memory file has the wrong size.
 */
export async function readInProcessSnapshot(dir: string): Promise<InProcessSnapshotState> {
  if (!(await isCompleteSnapshot(dir, IN_PROCESS_SNAPSHOT_FILES))) {
    throw new NotFoundError(`no complete in-process snapshot in ${dir}`, { dir });
  }
  const path = join(dir, STATE_FILE);
  const text = await readFile(path, 'utf8');
  let state: InProcessSnapshotState;
  try {
    state = InProcessSnapshotState.parse(JSON.parse(text));
  } catch (error) {
    throw new CorruptStateError(path, error);
  }
  const memory = join(dir, MEMORY_FILE);
  const size = (await stat(memory)).size;
  if (size !== state.memoryMib * MIB) {
    throw new CorruptStateError(
      memory,
      new Error(`holds ${size} bytes, vm.json says ${state.memoryMib} MiB`),
    );
  }
  return state;
}

// A sparse file of the full size: a header block at the start, the middle and the end (the
// rest are holes), synced, so a snapshot costs a few blocks and one fsync whatever its size.
async function writeMemoryFile(path: string, size: number, generation: number): Promise<void> {
  const handle = await open(path, 'w', PRIVATE_FILE_MODE);
  try {
    await handle.truncate(size);
    const header = Buffer.alloc(BLOCK);
    header.write(`hangar in-process stand-in memory generation=${generation}\n`);
    for (const offset of [0, Math.floor(size / 2 / BLOCK) * BLOCK, size - BLOCK]) {
      if (offset >= 0 && offset + BLOCK <= size) await handle.write(header, 0, BLOCK, offset);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}
