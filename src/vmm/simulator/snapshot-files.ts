import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ReportedVmConfig, type VmConfig } from '../cloud-hypervisor/schemas/index.ts';
import { PRIVATE_FILE_MODE } from '../private-files.ts';
import { osErrorText, refused, rustDebug } from './ch-errors.ts';
import { guestMemoryBytes } from './config-edits.ts';
import { serdeSyntaxError } from './serde-messages.ts';
import type { SimVmState } from './state-machine.ts';

// A CH snapshot directory as CH writes and reads it (vm.rs Vm::send, memory_manager.rs,
// migration/mod.rs): config.json (the VmConfig as compact JSON), state.json, memory-ranges,
// created in that order with create_new, so an existing file is refused and the ones made
// before it stay. The simulator's state.json stands in for device state; memory-ranges is a
// sparse file of the guest's RAM size.

/** The files of a CH snapshot directory, in the order CH writes them. */
export const SNAPSHOT_FILE_NAMES = ['config.json', 'state.json', 'memory-ranges'] as const;

/** The simulator's state.json: what a real snapshot keeps as device state, reduced to what we test. */
const SimStateFile = z.looseObject({
  hangar_sim: z.literal(true),
  vm_state: z.literal('Paused'),
  generation: z.int().min(1),
  booted_at: z.string().optional(),
});

const BLOCK = 4096;
const SEND = ['Cannot send VM snapshot', 'Failed to send migratable component snapshot'];
const RECEIVE = ['Cannot restore VM', 'Failed to receive migratable component snapshot'];

/** CH's url_to_path: what follows "file://" (not percent-decoded), which must be a directory. */
async function dirOf(url: string, fail: (why: string) => Error): Promise<string> {
  if (!url.startsWith('file://')) throw fail(`Could not extract path from URL: ${url}`);
  const dir = url.slice('file://'.length);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw fail(`Destination is not a directory: ${rustDebug(dir)}`);
  return dir;
}

/** The directory vm.snapshot writes into. */
export function snapshotDirOf(url: string): Promise<string> {
  return dirOf(url, (why) => refused('vm.snapshot', 500, ...SEND, why));
}

/** Writes config.json, state.json and memory-ranges, refusing to overwrite any (500). */
export async function writeSnapshot(dir: string, config: VmConfig, state: SimVmState): Promise<void> {
  await writeFiles(dir, config, state, 1);
}

/** What a VMM dying mid-snapshot leaves: config.json, state.json and half a memory file. */
export async function writePartialSnapshot(dir: string, config: VmConfig, state: SimVmState): Promise<void> {
  await writeFiles(dir, config, state, 0.5);
}

async function writeFiles(dir: string, config: VmConfig, state: SimVmState, fraction: number): Promise<void> {
  await writeNew(join(dir, 'config.json'), 'Error creating VM config snapshot file', JSON.stringify(config));
  const stateFile = {
    hangar_sim: true,
    note: 'written by the hangar CH simulator: no device state, no guest memory',
    vm_state: 'Paused',
    generation: state.generation,
    booted_at: state.bootedAt,
    snapshotted_at: new Date().toISOString(),
  };
  await writeNew(join(dir, 'state.json'), 'Error creating VM state snapshot file', JSON.stringify(stateFile));
  const memory = join(dir, 'memory-ranges');
  const handle = await createNew(memory, `Error creating memory snapshot file ${rustDebug(memory)}`);
  await fillMemoryRanges(handle, guestMemoryBytes(config), state.generation, fraction);
}

async function writeNew(path: string, context: string, text: string): Promise<void> {
  const handle = await createNew(path, context);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

// create_new: O_CREAT|O_EXCL. Snapshot files hold (what stands for) guest memory: owner-only.
async function createNew(path: string, context: string): Promise<FileHandle> {
  try {
    return await open(path, 'wx', PRIVATE_FILE_MODE);
  } catch (error) {
    throw refused('vm.snapshot', 500, ...SEND, context, osErrorText(error));
  }
}

// A sparse file of the full size: a header block, one in the middle and one at the end; the
// rest are holes. `fraction` < 1 stops early (a snapshot cut off by a crash).
async function fillMemoryRanges(handle: FileHandle, size: number, generation: number, fraction: number) {
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

/**
 * Reads a snapshot for vm.restore or --restore, failing as CH fails: the directory, then
 * config.json, then the request's own check (`checkRequest`, CH's RestoreConfig::validate),
 * then state.json, then memory-ranges (which must hold the guest's RAM size, a check of the
 * simulator's own: CH would fail reading a short file).
 */
export async function readSnapshot(
  sourceUrl: string,
  checkRequest: () => void = () => {},
): Promise<{ config: VmConfig; state: SimVmState }> {
  const dir = await dirOf(sourceUrl, (why) =>
    refused('vm.restore', 500, 'Cannot restore VM', 'Failed to send migratable component snapshot', why),
  );
  const configJson = await readPart(join(dir, 'config.json'), 'VM config');
  const config = ReportedVmConfig.safeParse(configJson);
  if (!config.success) throw undeserialisable('VM config', z.prettifyError(config.error));
  checkRequest();
  const state = SimStateFile.safeParse(await readPart(join(dir, 'state.json'), 'VM state'));
  if (!state.success)
    throw undeserialisable('VM state', `not a hangar simulator snapshot: ${z.prettifyError(state.error)}`);
  const memory = join(dir, 'memory-ranges');
  const actual = await stat(memory).catch((error: unknown) => {
    throw refused(
      'vm.restore',
      500,
      'Memory manager error',
      'Error opening snapshot file',
      osErrorText(error),
    );
  });
  const expected = guestMemoryBytes(config.data);
  if (actual.size !== expected) {
    throw refused(
      'vm.restore',
      500,
      'Memory manager error',
      'Error copying snapshot into region',
      `hangar simulator: memory-ranges holds ${actual.size} bytes, the config says ${expected}`,
    );
  }
  return {
    config: config.data,
    state: { generation: state.data.generation, bootedAt: state.data.booted_at },
  };
}

async function readPart(path: string, what: 'VM config' | 'VM state'): Promise<unknown> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw refused(
      'vm.restore',
      500,
      ...RECEIVE,
      `Error opening ${what} snapshot file ${rustDebug(path)}`,
      osErrorText(error),
    );
  });
  const syntax = serdeSyntaxError(text);
  if (syntax !== undefined) throw undeserialisable(what, syntax);
  return JSON.parse(text);
}

function undeserialisable(what: 'VM config' | 'VM state', why: string): Error {
  return refused('vm.restore', 500, ...RECEIVE, `Error deserialising ${what} snapshot`, why);
}
