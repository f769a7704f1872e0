import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ReportedVmConfig, type VmConfig } from '../cloud-hypervisor/schemas/index.ts';
import { PRIVATE_FILE_MODE } from '../private-files.ts';
import { guestMemoryBytes, SimApiFailure, type SimVmState } from './state-machine.ts';

/** The files of a CH snapshot directory. */
export const SNAPSHOT_FILE_NAMES = ['config.json', 'state.json', 'memory-ranges'] as const;

/** The simulator's state.json: what a real snapshot keeps as device state, reduced to what we test. */
const SimStateFile = z.looseObject({
  hangar_sim: z.literal(true),
  vm_state: z.literal('Paused'),
  generation: z.int().min(1),
  booted_at: z.string().optional(),
});

const BLOCK = 4096;

const fail = (action: string, why: string) =>
  new SimApiFailure(500, ['Error from API', `The VM could not be ${action}`, why]);

/** The directory of a `file:///dir` URL, checked to exist (CH does not create it). */
export async function snapshotDirOf(url: string, action: string): Promise<string> {
  if (!url.startsWith('file:///'))
    throw fail(action, `Unsupported URL scheme in ${url}: only file:// is supported`);
  const dir = fileURLToPath(url);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory())
    throw fail(action, `Snapshot directory ${dir} does not exist or is not a directory`);
  return dir;
}

/**
 * Writes config.json (the VmConfig, readable), state.json and a sparse memory-ranges of the
 * guest's RAM size with a few written blocks, as CH would for a guest that touched little.
 */
export async function writeSnapshot(dir: string, config: VmConfig, state: SimVmState): Promise<void> {
  await writeSnapshotFile(join(dir, 'config.json'), config);
  await writeMemoryRanges(join(dir, 'memory-ranges'), guestMemoryBytes(config), state.generation, 1);
  const stateFile = {
    hangar_sim: true,
    note: 'written by the hangar CH simulator: no device state, no guest memory',
    vm_state: 'Paused',
    generation: state.generation,
    booted_at: state.bootedAt,
    snapshotted_at: new Date().toISOString(),
  };
  await writeSnapshotFile(join(dir, 'state.json'), stateFile);
}

/** What a VMM dying mid-snapshot leaves: config.json and half a memory file, no state.json. */
export async function writePartialSnapshot(dir: string, config: VmConfig, state: SimVmState): Promise<void> {
  await writeSnapshotFile(join(dir, 'config.json'), config);
  await writeMemoryRanges(join(dir, 'memory-ranges'), guestMemoryBytes(config), state.generation, 0.5);
}

// Snapshot files hold (what stands for) guest memory and state: owner-only, as hangar's own files.
async function writeSnapshotFile(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
}

/** Reads a snapshot for restore; any missing or invalid file is a 500, as in CH. */
export async function readSnapshot(dir: string): Promise<{ config: VmConfig; state: SimVmState }> {
  for (const name of SNAPSHOT_FILE_NAMES) {
    if ((await stat(join(dir, name)).catch(() => undefined)) === undefined) {
      throw fail('restored', `Snapshot ${dir} is missing ${name}`);
    }
  }
  const config = ReportedVmConfig.safeParse(await readJson(dir, 'config.json'));
  if (!config.success) throw fail('restored', `Invalid config.json: ${z.prettifyError(config.error)}`);
  const state = SimStateFile.safeParse(await readJson(dir, 'state.json'));
  if (!state.success)
    throw fail(
      'restored',
      `Invalid state.json (not a hangar simulator snapshot?): ${z.prettifyError(state.error)}`,
    );
  const expected = guestMemoryBytes(config.data);
  const actual = (await stat(join(dir, 'memory-ranges'))).size;
  if (actual !== expected)
    throw fail('restored', `memory-ranges holds ${actual} bytes, the config says ${expected}`);
  return {
    config: config.data,
    state: { generation: state.data.generation, bootedAt: state.data.booted_at },
  };
}

async function readJson(dir: string, name: string): Promise<unknown> {
  const text = await readFile(join(dir, name), 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw fail('restored', `${name} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// A sparse file of the full size: a header block, one in the middle and one at the end; the
// rest are holes. `fraction` < 1 stops early (a snapshot cut off by a crash).
async function writeMemoryRanges(
  path: string,
  size: number,
  generation: number,
  fraction: number,
): Promise<void> {
  const handle = await open(path, 'w', PRIVATE_FILE_MODE);
  try {
    const length = Math.floor(size * fraction);
    await handle.truncate(length);
    const header = Buffer.alloc(BLOCK);
    header.write(`hangar-ch-sim memory generation=${generation}\n`);
    for (const offset of [0, Math.floor(size / 2 / BLOCK) * BLOCK, size - BLOCK]) {
      if (offset >= 0 && offset + BLOCK <= length) await handle.write(header, 0, BLOCK, offset);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}
