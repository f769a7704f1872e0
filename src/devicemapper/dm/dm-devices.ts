import { CommandError } from '../../errors/index.ts';
import type { CommandRunner } from '../../exec/command-runner.ts';
import { type BusyRetryOptions, retryOnBusy } from '../busy-retry.ts';
import {
  DM_ABSENT,
  type DmInfo,
  dmsetupArgs,
  parseDmInfo,
  parseDmList,
  parseSnapshotStatus,
  type SnapshotStatus,
} from './dmsetup.ts';

/** dm devices through `dmsetup`, each call reading absence and "busy" the way the tool words them. */
export class DmDevices {
  readonly #runner: CommandRunner;
  readonly #retry: BusyRetryOptions;

  constructor(runner: CommandRunner, retry: BusyRetryOptions = {}) {
    this.#runner = runner;
    this.#retry = retry;
  }

  /** The device's info, or undefined when no device has that name. */
  async info(name: string): Promise<DmInfo | undefined> {
    const stdout = await this.#tolerating(dmsetupArgs.info(name));
    // Some libdm releases print "Device does not exist." and still exit 0.
    return stdout === undefined || DM_ABSENT.test(stdout) ? undefined : parseDmInfo(stdout);
  }

  /** The device's table line, or undefined when it does not exist. */
  async table(name: string): Promise<string | undefined> {
    return this.#tolerating(dmsetupArgs.table(name));
  }

  /** The snapshot's health, or undefined when it does not exist. */
  async status(name: string): Promise<SnapshotStatus | undefined> {
    const stdout = await this.#tolerating(dmsetupArgs.status(name));
    return stdout === undefined ? undefined : parseSnapshotStatus(stdout);
  }

  /**
   * Creates the device. The create ioctl answers "busy" both when the name is taken and
   * transiently: a device that exists afterwards (a concurrent retry made it) is success.
   */
  async create(name: string, table: string): Promise<void> {
    const args = dmsetupArgs.create(name, table);
    await retryOnBusy(async () => {
      const result = await this.#runner.run('dmsetup', args, { allowFailure: true });
      if (result.exitCode === 0) return;
      if ((await this.info(name)) !== undefined) return;
      throw new CommandError(['dmsetup', ...args], result.exitCode, result.stderr);
    }, this.#retry);
  }

  /** Removes the device, retrying while it is busy; false when there was none. */
  async remove(name: string): Promise<boolean> {
    return retryOnBusy(
      async () => (await this.#tolerating(dmsetupArgs.remove(name))) !== undefined,
      this.#retry,
    );
  }

  /** Flushes and holds the device's I/O until resume. */
  async suspend(name: string): Promise<void> {
    await this.#runner.run('dmsetup', dmsetupArgs.suspend(name));
  }

  /** Lets held I/O through again. */
  async resume(name: string): Promise<void> {
    await this.#runner.run('dmsetup', dmsetupArgs.resume(name));
  }

  /** Names of every snapshot-target device on the host. */
  async listSnapshots(): Promise<string[]> {
    const { stdout } = await this.#runner.run('dmsetup', dmsetupArgs.listSnapshots());
    return parseDmList(stdout);
  }

  /** stdout, or undefined when dmsetup says the device does not exist; other failures throw. */
  async #tolerating(args: string[]): Promise<string | undefined> {
    const result = await this.#runner.run('dmsetup', args, { allowFailure: true });
    if (result.exitCode === 0) return result.stdout;
    // libdm logs "Device does not exist." at print level (stdout), "Command failed." to stderr.
    if (DM_ABSENT.test(`${result.stdout}\n${result.stderr}`)) return undefined;
    throw new CommandError(['dmsetup', ...args], result.exitCode, result.stderr);
  }
}
