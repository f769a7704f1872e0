import { stat, statfs } from 'node:fs/promises';
import { CapacityError } from '../errors/index.ts';
import type { LedgerEntry } from '../state/host-ledger.ts';
import type { HostContext } from './host-context.ts';
import { KeyedMutex } from './keyed-mutex.ts';

const MIB = 1024 * 1024;

/** What a host may hold: its configured vCPUs and memory, its slots, and the disk it keeps free. */
export interface HostLimits {
  vcpus: number;
  memoryMib: number;
  slots: number;
  diskReserveMib: number;
}

/** Whether a ledger entry still holds this host's capacity (a crash reclaimed holds nothing). */
export function holdsCapacity(entry: LedgerEntry): boolean {
  return entry.state !== 'crashed' || entry.slot !== undefined;
}

/**
 * The worker's own check before it builds anything, whatever the producer reserved: under
 * one host-wide lock, the ledger's vCPUs, memory and slots plus the request must fit the
 * host, and the state dir's free space must cover the request's memory and disk plus the
 * reserve. The lock is held until `commit` has written the sandbox into the ledger, so two
 * creates never both pass on the same room. A shortfall is a permanent E_CAPACITY naming
 * what was asked and what is free.
 */
export class HostAdmission {
  readonly #limits: HostLimits;
  readonly #lock = new KeyedMutex();

  constructor(limits: HostLimits) {
    this.#limits = limits;
  }

  get limits(): HostLimits {
    return this.#limits;
  }

  /**
   * Admits `entry` (new to the ledger) and runs `commit` under the lock; a known entry skips
   * the check. With `fromPool`, the sandbox takes over that pool VM: its room and disk are
   * already held, so only the swap is checked.
   */
  async admit<T>(
    ctx: HostContext,
    entry: LedgerEntry,
    diskBytes: number,
    commit: () => Promise<T>,
    options: { fromPool?: string } = {},
  ): Promise<T> {
    return this.#lock.run('host', async () => {
      if (ctx.ledger.get(entry.sandboxId) === undefined)
        await this.#check(ctx, entry, diskBytes, options.fromPool);
      return commit();
    });
  }

  /** Checks that the state dir can take `bytes` more and keep its reserve (a snapshot's files). */
  async checkDisk(ctx: HostContext, bytes: number, what: string): Promise<void> {
    const free = await freeBytes(ctx.paths.stateDir);
    const reserve = this.#limits.diskReserveMib * MIB;
    if (free - bytes < reserve) {
      throw new CapacityError(
        `host ${ctx.hostId} has no disk room for ${what}: asked ${mib(bytes)} MiB, ${mib(free)} MiB free with ${this.#limits.diskReserveMib} MiB kept in reserve`,
        { askedBytes: bytes, freeBytes: free, reserveBytes: reserve },
      );
    }
  }

  // The host holds its sandboxes and its pool VMs (but the one this sandbox takes over).
  async #check(ctx: HostContext, entry: LedgerEntry, diskBytes: number, fromPool?: string): Promise<void> {
    const holding = [
      ...ctx.ledger.entries().filter(holdsCapacity),
      ...ctx.ledger.poolEntries().filter((e) => e.vmId !== fromPool),
    ];
    const used = {
      vcpus: holding.reduce((sum, e) => sum + e.vcpus, 0),
      memoryMib: holding.reduce((sum, e) => sum + e.memoryMib, 0),
      slots: holding.length,
    };
    const free = {
      vcpus: this.#limits.vcpus - used.vcpus,
      memoryMib: this.#limits.memoryMib - used.memoryMib,
      slots: this.#limits.slots - used.slots,
    };
    if (free.vcpus < entry.vcpus || free.memoryMib < entry.memoryMib || free.slots < 1) {
      throw new CapacityError(
        `host ${ctx.hostId} has no room for sandbox ${entry.sandboxId}: asked ${entry.vcpus} vCPU / ${entry.memoryMib} MiB / 1 slot, free ${free.vcpus} vCPU / ${free.memoryMib} MiB / ${free.slots} slots`,
        { asked: { vcpus: entry.vcpus, memoryMib: entry.memoryMib, slots: 1 }, free },
      );
    }
    if (fromPool === undefined) {
      await this.checkDisk(ctx, entry.memoryMib * MIB + diskBytes, `sandbox ${entry.sandboxId}`);
    }
  }
}

/** Bytes an unprivileged writer may still use on the file system holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const fs = await statfs(path);
  return fs.bavail * fs.bsize;
}

/** The apparent size of a file (a base image's size bounds what its copy-on-write disk can grow to). */
export async function fileBytes(path: string): Promise<number> {
  return (await stat(path)).size;
}

function mib(bytes: number): number {
  return Math.floor(bytes / MIB);
}
