import { access, mkdir, open, rm } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../errors/index.ts';
import { type CommandRunner, defaultRunner } from '../../exec/command-runner.ts';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import { assertIdentifier, Identifier } from '../../validation/identifiers.ts';
import type { BusyRetryOptions } from '../busy-retry.ts';
import { diskUsage } from '../disk-usage.ts';
import { LoopRegistry } from '../loop-registry.ts';
import type { BaseImage, RootDisk, RootDiskProvider, SweepReport } from '../root-disk-provider.ts';
import { FileDiskLayout } from './layout.ts';
import { detachAll, loopsOf } from './loop.ts';
import { type CopyMethod, type CopyOutcome, copyDiskFile, probeCopyMethod } from './reflink.ts';
import { sweepFileDisks } from './sweep.ts';

/** Options of FileCowProvider. */
export interface FileCowProviderOptions {
  /** Directory the provider owns; disks live in `<dataDir>/disks/`. */
  dataDir: string;
  /** Runs cp and losetup; default: the real runner. */
  runner?: CommandRunner;
  logger?: Logger;
  /** Retries of a detach that finds the device busy; default 5 x 200 ms. */
  busyRetry?: BusyRetryOptions;
  /** The host's loop devices; default: a registry of its own over `runner`. */
  loops?: LoopRegistry;
}

const AbsolutePath = z.string().refine(isAbsolute, 'must be an absolute path');
const Options = z.object({ dataDir: AbsolutePath });
const Base = z.object({ templateId: Identifier, imagePath: AbsolutePath });

function checkPath(value: string, field: string): string {
  const parsed = AbsolutePath.safeParse(value);
  if (!parsed.success) throw ValidationError.fromZod(field, parsed.error);
  return parsed.data;
}

function checkBase(base: BaseImage): BaseImage {
  const parsed = Base.safeParse(base);
  if (!parsed.success) throw ValidationError.fromZod('base image', parsed.error);
  return parsed.data;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function mustExist(path: string, what: string, details: Record<string, unknown>): Promise<void> {
  if (!(await exists(path))) throw new NotFoundError(`${what} ${path} does not exist`, { ...details, path });
}

/**
 * Copy-on-write root disks as whole files: each sandbox's disk is a reflinked copy of its
 * base image (XFS with reflink=1, btrfs), or a sparse copy where the file system cannot
 * reflink, attached read-write on a loop device so the VMM sees a block device as with dm.
 * Runs wherever losetup does. Calls for one sandbox must not overlap (the worker serializes them).
 */
export class FileCowProvider implements RootDiskProvider {
  readonly kind = 'file' as const;
  readonly layout: FileDiskLayout;
  readonly #runner: CommandRunner;
  readonly #log: Logger;
  readonly #busyRetry: BusyRetryOptions;
  readonly #loops: LoopRegistry;
  #probe: Promise<CopyOutcome> | undefined;
  #lastCopyMethod: CopyMethod | undefined;

  constructor(options: FileCowProviderOptions) {
    const parsed = Options.safeParse(options);
    if (!parsed.success) throw ValidationError.fromZod('file provider options', parsed.error);
    this.layout = new FileDiskLayout(parsed.data.dataDir);
    this.#runner = options.runner ?? defaultRunner;
    this.#log = (options.logger ?? silentLogger).child({ component: 'file-cow' });
    this.#busyRetry = options.busyRetry ?? {};
    this.#loops =
      options.loops ?? new LoopRegistry({ runner: this.#runner, logger: this.#log, ...this.#busyRetry });
  }

  /** How the last copy this provider made was done; undefined before the first. */
  get lastCopyMethod(): CopyMethod | undefined {
    return this.#lastCopyMethod;
  }

  /** Whether disks in this dataDir are made by reflink: probed once, then remembered. */
  async cloneMethod(): Promise<CopyMethod> {
    if (this.#probe === undefined) {
      const probe = this.#runProbe();
      this.#probe = probe;
      // A failed probe (disk full, say) is tried again next time.
      probe.catch(() => {
        if (this.#probe === probe) this.#probe = undefined;
      });
    }
    return (await this.#probe).method;
  }

  async #runProbe(): Promise<CopyOutcome> {
    await mkdir(this.layout.disksDir, { recursive: true, mode: 0o700 });
    const outcome = await probeCopyMethod(this.#runner, this.layout.disksDir);
    this.#log.info(
      {
        dataDir: this.layout.dataDir,
        method: outcome.method,
        reflinkRefused: outcome.reflinkRefused?.trim(),
      },
      outcome.method === 'reflink'
        ? 'file CoW disks will be reflinked copies'
        : 'file CoW disks will be sparse copies: this file system cannot reflink',
    );
    return outcome;
  }

  /** Reflinks (or sparse-copies) the base to the sandbox's CoW unless it exists, then attaches it once. */
  async create(sandboxId: string, base: BaseImage): Promise<RootDisk> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const { imagePath } = checkBase(base);
    const cow = await this.#prepare(id);
    if (!(await exists(cow))) {
      await mustExist(imagePath, 'base image', { sandboxId: id, templateId: base.templateId });
      await this.#copyIn(id, imagePath, cow, 'base image');
    }
    return this.#attach(id, cow);
  }

  /** Attaches the sandbox's existing CoW (re-using a live attachment); NotFoundError if there is none. */
  async restore(sandboxId: string, base: BaseImage): Promise<RootDisk> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    checkBase(base);
    const cow = await this.#prepare(id);
    await mustExist(cow, 'CoW disk', { sandboxId: id });
    return this.#attach(id, cow);
  }

  /** Like create, but the CoW starts as a copy of `cowSource` (a snapshot's disk). */
  async createFromCow(sandboxId: string, base: BaseImage, cowSource: string): Promise<RootDisk> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    checkBase(base);
    const source = checkPath(cowSource, 'cowSource');
    const cow = await this.#prepare(id);
    if (!(await exists(cow))) {
      await mustExist(source, 'CoW source', { sandboxId: id });
      await this.#copyIn(id, source, cow, 'snapshot disk');
    }
    return this.#attach(id, cow);
  }

  /** Flushes the loop device, then copies the CoW to `destPath` (temp + rename); call it while paused. */
  async copyCow(sandboxId: string, destPath: string): Promise<{ path: string; usedBytes: number }> {
    return this.#copyOut(sandboxId, checkPath(destPath, 'destPath'), 'CoW copy');
  }

  /** With this provider the CoW already holds the whole disk: flattening is a plain copy of it. */
  async flatten(sandboxId: string, destImage: string): Promise<{ path: string; usedBytes: number }> {
    return this.#copyOut(sandboxId, checkPath(destImage, 'destImage'), 'flattened image');
  }

  /** Detaches every loop device over the CoW (retried while busy), then deletes the file and temps. */
  async remove(sandboxId: string, _base: BaseImage): Promise<void> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const cow = this.layout.cowPath(id);
    const devices = await detachAll(this.#loops, () => loopsOf(this.#loops, cow), this.#busyRetry);
    await rm(cow, { force: true });
    await this.layout.removeTemps(id);
    this.#log.info({ sandboxId: id, devices }, 'file CoW disk removed');
  }

  /** st_blocks x 512 of the CoW file; extents still shared with the base count too (see DiskSpace). */
  async usage(sandboxId: string): Promise<number> {
    return diskUsage(this.layout.cowPath(assertIdentifier(sandboxId, 'sandboxId')));
  }

  /** Removes disks, loop devices and temp copies of sandboxes not in `owned`. */
  async sweep(owned: ReadonlySet<string>): Promise<SweepReport> {
    return sweepFileDisks({
      layout: this.layout,
      owned,
      loops: this.#loops,
      logger: this.#log,
      busyRetry: this.#busyRetry,
    });
  }

  /** Makes the disks directory and clears a crashed copy's temp files; returns the CoW path. */
  async #prepare(id: string): Promise<string> {
    await mkdir(this.layout.disksDir, { recursive: true, mode: 0o700 });
    const stale = await this.layout.removeTemps(id);
    if (stale.length > 0) this.#log.warn({ sandboxId: id, stale }, 'removed temp copies left by a crash');
    return this.layout.cowPath(id);
  }

  async #copyIn(id: string, source: string, cow: string, what: string): Promise<void> {
    const tryReflink = (await this.cloneMethod()) === 'reflink';
    const outcome = await copyDiskFile(this.#runner, source, cow, { tryReflink });
    this.#note(outcome, { sandboxId: id, source, dest: cow }, `CoW disk made from ${what}`);
  }

  async #copyOut(
    sandboxId: string,
    dest: string,
    what: string,
  ): Promise<{ path: string; usedBytes: number }> {
    const id = assertIdentifier(sandboxId, 'sandboxId');
    const cow = this.layout.cowPath(id);
    await mustExist(cow, 'CoW disk', { sandboxId: id });
    // Writes the VMM made through the loop device may still sit in that device's page cache.
    for (const device of await loopsOf(this.#loops, cow)) await syncDevice(device);
    await mkdir(dirname(dest), { recursive: true });
    const outcome = await copyDiskFile(this.#runner, cow, dest);
    this.#note(outcome, { sandboxId: id, source: cow, dest }, `${what} written`);
    return { path: dest, usedBytes: await diskUsage(dest) };
  }

  #note(outcome: CopyOutcome, fields: Record<string, unknown>, message: string): void {
    this.#lastCopyMethod = outcome.method;
    const how = outcome.method === 'reflink' ? 'by reflink' : 'by sparse copy (no reflink)';
    this.#log.info(
      { ...fields, method: outcome.method, reflinkRefused: outcome.reflinkRefused?.trim() },
      `${message} ${how}`,
    );
  }

  async #attach(id: string, cow: string): Promise<RootDisk> {
    const devicePath = await this.#loops.attachRw(cow);
    return { sandboxId: id, devicePath, cowPath: cow, usedBytes: await diskUsage(cow) };
  }
}

/** Flushes a block device's page cache down to its backing file. */
async function syncDevice(device: string): Promise<void> {
  const handle = await open(device, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
