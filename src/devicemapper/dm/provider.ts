import { open } from 'node:fs/promises';
import { CommandError, NotFoundError } from '../../errors/index.ts';
import { type CommandRunner, defaultRunner } from '../../exec/command-runner.ts';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import { assertIdentifier } from '../../validation/identifiers.ts';
import type { BusyRetryOptions } from '../busy-retry.ts';
import { LoopRegistry } from '../loop-registry.ts';
import type { BaseImage, RootDisk, RootDiskProvider, SweepReport } from '../root-disk-provider.ts';
import {
  copyIntoPlace,
  cowPathOf,
  ensureSparseSize,
  flattenArgv,
  PARTIAL_SUFFIX,
  removeFile,
  sparseCopyArgv,
  usedBytesOf,
} from './cow-file.ts';
import { DmDevices } from './dm-devices.ts';
import { dmDevicePath, dmName, type SnapshotStatus } from './dmsetup.ts';
import { sweepDeviceMapper } from './sweep.ts';
import { cowBytesFor, originSectors, snapshotTable } from './table.ts';

/** Where a DeviceMapperProvider keeps CoW files and how it reaches the host. */
export interface DeviceMapperProviderOptions extends BusyRetryOptions {
  /** Directory of the CoW files, `<dataDir>/<sandboxId>.cow`; made on first use. */
  dataDir: string;
  /** Default: the process-wide execa runner. */
  runner?: CommandRunner;
  /** Base-image loop devices, shared with anything else on the host using them; default: its own. */
  loops?: LoopRegistry;
  logger?: Logger;
}

/**
 * Whether this host has a working device-mapper driver: its control node opens. Existence is
 * not enough: dmsetup mknods /dev/mapper/control (10:236) when it is missing, so after any
 * dmsetup run a driver-less host has a node whose open fails with ENODEV.
 */
export async function deviceMapperAvailable(controlPath = '/dev/mapper/control'): Promise<boolean> {
  try {
    await (await open(controlPath, 'r')).close();
    return true;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await usedBytesOf(path)) !== undefined;
}

/**
 * Root disks as dm-snapshot devices: `/dev/mapper/hangar-<id>` = the template's base on its
 * shared read-only loop device + the sandbox's sparse CoW file on its own read-write loop.
 * Every step reads the real state first (dmsetup info, losetup --associated, the files), so
 * a retry after a crash completes what is missing and a repeat changes nothing.
 */
export class DeviceMapperProvider implements RootDiskProvider {
  readonly kind = 'device-mapper' as const;
  readonly #dataDir: string;
  readonly #runner: CommandRunner;
  readonly #loops: LoopRegistry;
  readonly #dm: DmDevices;
  readonly #log: Logger;

  constructor(options: DeviceMapperProviderOptions) {
    const retry = { attempts: options.attempts, delayMs: options.delayMs };
    this.#dataDir = options.dataDir;
    this.#runner = options.runner ?? defaultRunner;
    this.#log = options.logger ?? silentLogger;
    this.#loops = options.loops ?? new LoopRegistry({ ...retry, runner: this.#runner, logger: this.#log });
    this.#dm = new DmDevices(this.#runner, retry);
  }

  /** A new, empty CoW over the base; an existing device for the sandbox is kept as it is. */
  async create(sandboxId: string, base: BaseImage): Promise<RootDisk> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const baseLoop = await this.#loops.acquire(base.imagePath, id);
    if (await this.#deviceReady(id)) return this.#disk(id);
    return this.#assemble(id, baseLoop);
  }

  /** Re-creates the device over the existing CoW, replacing a stale device of the same name. */
  async restore(sandboxId: string, base: BaseImage): Promise<RootDisk> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const cowPath = this.cowPath(id);
    if (!(await exists(cowPath))) throw new NotFoundError(`no CoW to restore for ${id}`, { cowPath });
    const baseLoop = await this.#loops.acquire(base.imagePath, id);
    // A device left from before may name loop devices that no longer back it: rebuild it.
    if (await this.#dm.remove(dmName(id))) this.#log.info({ sandboxId: id }, 'stale dm device removed');
    return this.#assemble(id, baseLoop);
  }

  /** A new sandbox whose CoW starts as a sparse copy of `cowSource`; its exceptions are read back. */
  async createFromCow(sandboxId: string, base: BaseImage, cowSource: string): Promise<RootDisk> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const cowPath = this.cowPath(id);
    if (!(await exists(cowPath)) && !(await exists(cowSource))) {
      throw new NotFoundError(`CoW source for ${id} not found`, { cowSource });
    }
    const baseLoop = await this.#loops.acquire(base.imagePath, id);
    if (await this.#deviceReady(id)) return this.#disk(id);
    if (!(await exists(cowPath))) {
      await copyIntoPlace(this.#runner, cowPath, (partial) => sparseCopyArgv(cowSource, partial));
    }
    return this.#assemble(id, baseLoop);
  }

  /** Copies the CoW file with the device suspended, so no write is in flight; VM paused. */
  async copyCow(sandboxId: string, destPath: string): Promise<{ path: string; usedBytes: number }> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const cowPath = this.cowPath(id);
    if (!(await exists(cowPath))) throw new NotFoundError(`no CoW for ${id}`, { cowPath });
    const name = dmName(id);
    const device = await this.#dm.info(name);
    if (device !== undefined) await this.#dm.suspend(name);
    try {
      await copyIntoPlace(this.#runner, destPath, (partial) => sparseCopyArgv(cowPath, partial));
    } finally {
      if (device !== undefined) await this.#dm.resume(name);
    }
    return { path: destPath, usedBytes: (await usedBytesOf(destPath)) ?? 0 };
  }

  /** Copies the whole snapshot device (base + changes) into a new sparse image; VM paused. */
  async flatten(sandboxId: string, destImage: string): Promise<{ path: string; usedBytes: number }> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    // Reads of a suspended device would hang: resume one left suspended by a crash.
    if (!(await this.#deviceReady(id))) throw new NotFoundError(`no dm device for ${id}`, { sandboxId: id });
    const device = dmDevicePath(dmName(id));
    await copyIntoPlace(this.#runner, destImage, (partial) => flattenArgv(device, partial));
    return { path: destImage, usedBytes: (await usedBytesOf(destImage)) ?? 0 };
  }

  /** Device, CoW loop, base reference, CoW file, in that order; each may already be gone. */
  async remove(sandboxId: string, base: BaseImage): Promise<void> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const cowPath = this.cowPath(id);
    await this.#dm.remove(dmName(id));
    for (const loop of await this.#loops.listByFile(cowPath)) await this.#loops.detach(loop.device);
    await this.#loops.release(base.imagePath, id);
    await removeFile(cowPath);
    await removeFile(`${cowPath}${PARTIAL_SUFFIX}`);
    this.#log.info({ sandboxId: id }, 'root disk removed');
  }

  /** Bytes really used by the CoW file (st_blocks x 512). */
  async usage(sandboxId: string): Promise<number> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const used = await usedBytesOf(this.cowPath(id));
    if (used === undefined) throw new NotFoundError(`no CoW for ${id}`, { sandboxId: id });
    return used;
  }

  /** Removes `hangar-*` snapshots and CoW files of sandboxes not in `owned`; reports their ids. */
  async sweep(owned: ReadonlySet<string>): Promise<SweepReport> {
    return sweepDeviceMapper(
      { dm: this.#dm, loops: this.#loops, dataDir: this.#dataDir, log: this.#log },
      owned,
    );
  }

  /** The snapshot's health (valid with its fill, or invalid/overflow), undefined without a device. */
  async status(sandboxId: string): Promise<SnapshotStatus | undefined> {
    return this.#dm.status(dmName(assertIdentifier(sandboxId, 'sandboxId')));
  }

  /** Where the sandbox's CoW file lives. */
  cowPath(sandboxId: string): string {
    return cowPathOf(this.#dataDir, assertIdentifier(sandboxId, 'sandboxId'));
  }

  /** Whether a usable device exists: a half-made one (no table) is removed, a suspended one resumed. */
  async #deviceReady(id: string): Promise<boolean> {
    const name = dmName(id);
    const info = await this.#dm.info(name);
    if (info === undefined) return false;
    if (!info.live) {
      await this.#dm.remove(name);
      return false;
    }
    if (info.state === 'SUSPENDED') await this.#dm.resume(name);
    return true;
  }

  /** Sizes the CoW for the origin, attaches it read-write and creates the snapshot over both. */
  async #assemble(id: string, baseLoop: string): Promise<RootDisk> {
    const originBytes = await this.#originBytes(baseLoop);
    const cowPath = this.cowPath(id);
    await ensureSparseSize(cowPath, cowBytesFor(originBytes));
    const cowLoop = await this.#loops.attachRw(cowPath);
    await this.#dm.create(dmName(id), snapshotTable(originSectors(originBytes), baseLoop, cowLoop));
    this.#log.info({ sandboxId: id, baseLoop, cowLoop }, 'dm snapshot ready');
    return this.#disk(id);
  }

  async #originBytes(device: string): Promise<number> {
    const argv = ['blockdev', '--getsize64', device] as const;
    const { stdout } = await this.#runner.run(argv[0], argv.slice(1));
    const bytes = Number(stdout.trim());
    if (!/^\d+$/.test(stdout.trim()) || bytes <= 0) {
      throw new CommandError(argv, 0, `unexpected size ${JSON.stringify(stdout)}`);
    }
    return bytes;
  }

  async #disk(id: string): Promise<RootDisk> {
    const cowPath = this.cowPath(id);
    return {
      sandboxId: id,
      devicePath: dmDevicePath(dmName(id)),
      cowPath,
      usedBytes: (await usedBytesOf(cowPath)) ?? 0,
    };
  }
}
