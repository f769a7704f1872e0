import { readdir } from 'node:fs/promises';
import type { Logger } from '../../logging/logger.ts';
import { Identifier } from '../../validation/identifiers.ts';
import type { LoopRegistry } from '../loop-registry.ts';
import type { LoopDevice } from '../losetup.ts';
import type { SweepReport } from '../root-disk-provider.ts';
import { COW_SUFFIX, cowPathOf, PARTIAL_SUFFIX, removeFile } from './cow-file.ts';
import type { DmDevices } from './dm-devices.ts';
import { DM_PREFIX, dmName } from './dmsetup.ts';
import { parseSnapshotTable } from './table.ts';

/** What a sweep works with: the provider's own dm, loop registry and data dir. */
export interface SweepContext {
  dm: DmDevices;
  loops: LoopRegistry;
  dataDir: string;
  log: Logger;
}

/** The sandbox id in a name made of prefix + id + suffix, if it is one of ours. */
function idIn(name: string, prefix: string, suffix: string): string | undefined {
  if (!name.startsWith(prefix) || !name.endsWith(suffix)) return undefined;
  const id = name.slice(prefix.length, name.length - suffix.length);
  return Identifier.safeParse(id).success ? id : undefined;
}

async function dataDirEntries(dataDir: string): Promise<string[]> {
  try {
    return await readdir(dataDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Removes one stray snapshot: the device, its CoW loop, its base loop if nothing else holds it. */
async function removeStrayDevice(
  ctx: SweepContext,
  id: string,
  byMajMin: Map<string, LoopDevice>,
): Promise<void> {
  const name = dmName(id);
  // Read the table first: it is the only record of which loops this device stood on.
  const table = parseSnapshotTable((await ctx.dm.table(name)) ?? '');
  await ctx.dm.remove(name);
  ctx.loops.forgetHolder(id);
  const cowLoop = table === undefined ? undefined : byMajMin.get(table.cow);
  if (cowLoop !== undefined) await ctx.loops.detach(cowLoop.device);
  const baseLoop = table === undefined ? undefined : byMajMin.get(table.origin);
  if (baseLoop?.readOnly) await ctx.loops.detachIfUnused(baseLoop);
}

/** Detaches whatever still has a stray CoW file attached, then deletes the file. */
async function removeStrayCow(ctx: SweepContext, id: string): Promise<void> {
  const cowPath = cowPathOf(ctx.dataDir, id);
  ctx.loops.forgetHolder(id);
  for (const loop of await ctx.loops.listByFile(cowPath)) await ctx.loops.detach(loop.device);
  await removeFile(cowPath);
  await removeFile(`${cowPath}${PARTIAL_SUFFIX}`);
}

/**
 * Startup reconcile: every `hangar-*` snapshot device and every CoW file in the data dir whose
 * sandbox is not in `owned` is removed (device, CoW loop, unheld base loop, file). One stray
 * that cannot be removed (still busy) is logged and left for the next sweep; the rest go on.
 */
export async function sweepDeviceMapper(ctx: SweepContext, owned: ReadonlySet<string>): Promise<SweepReport> {
  const removed = new Set<string>();
  const strays = (await ctx.dm.listSnapshots())
    .map((name) => idIn(name, DM_PREFIX, ''))
    .filter((id): id is string => id !== undefined && !owned.has(id));
  const byMajMin = new Map<string, LoopDevice>();
  if (strays.length > 0) {
    for (const loop of await ctx.loops.listAll()) if (loop.majMin) byMajMin.set(loop.majMin, loop);
  }
  const files = (await dataDirEntries(ctx.dataDir)).sort();
  const strayCows = files
    .map((file) => idIn(file, '', COW_SUFFIX) ?? idIn(file, '', `${COW_SUFFIX}${PARTIAL_SUFFIX}`))
    .filter((id): id is string => id !== undefined && !owned.has(id));

  for (const id of strays) {
    try {
      await removeStrayDevice(ctx, id, byMajMin);
      await removeStrayCow(ctx, id);
      removed.add(id);
    } catch (error) {
      ctx.log.warn({ sandboxId: id, err: error }, 'stray dm device not removed; next sweep retries');
    }
  }
  for (const id of strayCows) {
    if (removed.has(id) || strays.includes(id)) continue;
    try {
      await removeStrayCow(ctx, id);
      removed.add(id);
    } catch (error) {
      ctx.log.warn({ sandboxId: id, err: error }, 'stray CoW file not removed; next sweep retries');
    }
  }
  if (removed.size > 0) ctx.log.info({ removed: [...removed] }, 'device-mapper sweep removed strays');
  return { removed: [...removed].sort() };
}
