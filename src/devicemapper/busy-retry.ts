import { setTimeout as sleep } from 'node:timers/promises';
import { CommandError } from '../errors/index.ts';

/** How often a command that answered "busy" is tried again; defaults suit udev and a closing VMM. */
export interface BusyRetryOptions {
  /** Tries in all, the first included; default 5. */
  attempts?: number;
  /** Pause between tries; default 200 ms. */
  delayMs?: number;
}

/** stderr of losetup and dmsetup when the kernel object is still open by someone. */
export const BUSY = /Device or resource busy/;

/** A command kept answering "busy" through every try; same code as CommandError (retryable later). */
export class DeviceBusyError extends CommandError {
  readonly attempts: number;

  constructor(last: CommandError, attempts: number) {
    const argv = (last.details.argv as readonly string[] | undefined) ?? [];
    super(argv, last.exitCode, `${last.stderr.trim()} (still busy after ${attempts} tries)`, last);
    this.attempts = attempts;
    this.details.attempts = attempts;
  }
}

/**
 * Runs `attempt` and runs it again while it throws a CommandError whose stderr says "busy"
 * (a device is briefly held by udev, blkid or a VMM that is still closing it). Any other
 * failure is thrown at once; busy on every try becomes DeviceBusyError.
 */
export async function retryOnBusy<T>(attempt: () => Promise<T>, options: BusyRetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 5);
  for (let tried = 1; ; tried++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof CommandError) || !BUSY.test(error.stderr)) throw error;
      if (tried >= attempts) throw new DeviceBusyError(error, attempts);
      await sleep(options.delayMs ?? 200);
    }
  }
}
