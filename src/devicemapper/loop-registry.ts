import { readdir, realpath } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { CommandError } from '../errors/index.ts';
import { type CommandRunner, defaultRunner } from '../exec/command-runner.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { type BusyRetryOptions, retryOnBusy } from './busy-retry.ts';
import {
  attachArgs,
  detachArgs,
  isPlainAttachment,
  LOOP_ABSENT,
  type LoopDevice,
  listAllArgs,
  listAssociatedArgs,
  parseLosetupList,
} from './losetup.ts';

/** How a LoopRegistry reaches the host. */
export interface LoopRegistryOptions extends BusyRetryOptions {
  /** Default: the process-wide execa runner. */
  runner?: CommandRunner;
  logger?: Logger;
  /** Devices holding a loop open (dm devices built on it); default reads /sys/block/<loop>/holders. */
  holders?: (device: string) => Promise<string[]>;
}

/** The kernel's list of block devices stacked on `device`; none when sysfs has no entry. */
async function sysfsHolders(device: string): Promise<string[]> {
  try {
    return await readdir(`/sys/block/${basename(device)}/holders`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The key the kernel reports a backing file under: its real path (a symlink resolves). */
async function realKey(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch {
    return resolve(file);
  }
}

/**
 * Loop devices for root disks. A base image gets ONE read-only loop device per host, shared
 * by every sandbox of its template and reference counted by holder (a sandbox id, so a
 * repeated acquire or release by the same sandbox counts once). The references live in
 * memory; the attachments themselves are always looked up in the kernel first, so a
 * restarted worker re-uses the device it attached before instead of attaching a second.
 */
export class LoopRegistry {
  readonly #runner: CommandRunner;
  readonly #log: Logger;
  readonly #retry: BusyRetryOptions;
  readonly #holders: (device: string) => Promise<string[]>;
  /** Real path of a base image -> ids of the sandboxes using its loop device. */
  readonly #refs = new Map<string, Set<string>>();
  /** Serializes work per file so two sandboxes of one template never attach it twice. */
  readonly #locks = new Map<string, Promise<void>>();

  constructor(options: LoopRegistryOptions = {}) {
    this.#runner = options.runner ?? defaultRunner;
    this.#log = options.logger ?? silentLogger;
    this.#retry = { attempts: options.attempts, delayMs: options.delayMs };
    this.#holders = options.holders ?? sysfsHolders;
  }

  /** The shared read-only loop device of `imagePath`, attached if none exists; `holder` now uses it. */
  async acquire(imagePath: string, holder: string): Promise<string> {
    const key = await realKey(imagePath);
    return this.#exclusive(key, async () => {
      const existing = (await this.listByFile(key)).find((loop) => isPlainAttachment(loop, true));
      const device = existing?.device ?? (await this.#attach(key, true));
      const holders = this.#refs.get(key) ?? new Set<string>();
      holders.add(holder);
      this.#refs.set(key, holders);
      this.#log.debug({ image: key, device, holder, references: holders.size }, 'base loop acquired');
      return device;
    });
  }

  /**
   * `holder` stops using the base image; the last one out detaches its loop device. With no
   * reference known in memory (a restart forgot them) it detaches only devices nothing holds
   * open, so sandboxes not yet re-registered keep their base.
   */
  async release(imagePath: string, holder: string): Promise<void> {
    const key = await realKey(imagePath);
    await this.#exclusive(key, async () => {
      const holders = this.#refs.get(key);
      if (holders !== undefined) {
        holders.delete(holder);
        if (holders.size > 0) return;
        this.#refs.delete(key);
      }
      for (const loop of await this.listByFile(key)) {
        if (loop.readOnly) await this.detachIfUnused(loop);
      }
    });
  }

  /** Drops `holder`'s references to every base (a sweep removing a sandbox whose base it does not know). */
  forgetHolder(holder: string): void {
    for (const [key, holders] of this.#refs) {
      holders.delete(holder);
      if (holders.size === 0) this.#refs.delete(key);
    }
  }

  /** Sandboxes this process knows to be using `imagePath`'s loop device. */
  async references(imagePath: string): Promise<number> {
    return this.#refs.get(await realKey(imagePath))?.size ?? 0;
  }

  /** A read-write loop device over `file` (a sandbox's CoW), re-using an existing attachment. */
  async attachRw(file: string): Promise<string> {
    const key = await realKey(file);
    return this.#exclusive(key, async () => {
      const existing = (await this.listByFile(key)).find((loop) => isPlainAttachment(loop, false));
      return existing?.device ?? (await this.#attach(key, false));
    });
  }

  /** Detaches a loop device, retrying while busy; an already detached device is fine. */
  async detach(device: string): Promise<void> {
    await retryOnBusy(async () => {
      const result = await this.#runner.run('losetup', detachArgs(device), { allowFailure: true });
      if (result.exitCode === 0 || LOOP_ABSENT.test(result.stderr)) return;
      throw new CommandError(['losetup', ...detachArgs(device)], result.exitCode, result.stderr);
    }, this.#retry);
  }

  /** Detaches `loop` unless a block device is stacked on it or this process holds a reference. */
  async detachIfUnused(loop: LoopDevice): Promise<boolean> {
    if ((this.#refs.get(loop.backFile)?.size ?? 0) > 0) return false;
    const holders = await this.#holders(loop.device);
    if (holders.length > 0) {
      this.#log.info({ device: loop.device, holders }, 'loop device still held open; kept');
      return false;
    }
    await this.detach(loop.device);
    return true;
  }

  /** The first loop attachment of `file`, if any. */
  async findByFile(file: string): Promise<LoopDevice | undefined> {
    return (await this.listByFile(file))[0];
  }

  /** Every loop attachment on the host, with its major:minor. */
  async listAll(): Promise<LoopDevice[]> {
    const { stdout } = await this.#runner.run('losetup', listAllArgs());
    return parseLosetupList(stdout);
  }

  /** Every loop attachment of `file` (losetup matches by inode, so any path to it works). */
  async listByFile(file: string): Promise<LoopDevice[]> {
    const { stdout } = await this.#runner.run('losetup', listAssociatedArgs(file));
    return parseLosetupList(stdout);
  }

  async #attach(file: string, readOnly: boolean): Promise<string> {
    const args = attachArgs(file, readOnly);
    const { stdout } = await retryOnBusy(() => this.#runner.run('losetup', args), this.#retry);
    const device = stdout.trim();
    if (!/^\/dev\/loop\d+$/.test(device)) {
      throw new CommandError(['losetup', ...args], 0, `unexpected output ${JSON.stringify(stdout)}`);
    }
    this.#log.info({ file, device, readOnly }, 'loop device attached');
    return device;
  }

  async #exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolveMine) => {
      done = resolveMine;
    });
    const tail = previous.then(() => mine);
    this.#locks.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      done();
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }
}
