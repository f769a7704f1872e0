import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SandboxState } from '../events/event-schemas.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { readFileIfExists } from '../util/read-file-if-exists.ts';
import { Identifier } from '../validation/identifiers.ts';
import { parseStrict } from './fleet-store.ts';
import { type JournalRecord, LedgerJournal } from './ledger-journal.ts';
import { SandboxRecord } from './record-schemas.ts';

/**
 * What this host holds for one sandbox: every field of the fleet record but its host and
 * update time (so the record is written from the entry, never read first), plus what a
 * retried job needs. Enough to find every resource again.
 */
export const LedgerEntry = SandboxRecord.pick({
  sandboxId: true,
  state: true,
  template: true,
  vcpus: true,
  memoryMib: true,
  labels: true,
  slot: true,
  address: true,
  fromSnapshot: true,
  diskBytes: true,
  pid: true,
  lastError: true,
  createdAt: true,
}).extend({
  /** The state a snapshot returns the sandbox to; kept here so a retried snapshot knows it. */
  priorState: SandboxState.optional(),
  /** The job that moved the sandbox into its transitional state; reconcile settles it if that job is gone. */
  jobId: z.string().optional(),
  /** The snapshot being written while `snapshotting`, so reconcile knows whose directory it is. */
  snapshotId: Identifier.optional(),
  /**
   * The name its VM, disk, runtime dir and slot claim carry when not its own id: a sandbox
   * made from a pool VM keeps that VM's resources, named as they were built.
   */
  vmId: Identifier.optional(),
  /** Restored paused: its RNG state is its source's until the reseed its first resume does. */
  reseedOnResume: z.boolean().optional(),
});
export type LedgerEntry = z.infer<typeof LedgerEntry>;

/** The name a sandbox's VM, disk, runtime dir and slot claim carry. */
export function resourceIdOf(entry: Pick<LedgerEntry, 'sandboxId' | 'vmId'>): string {
  return entry.vmId ?? entry.sandboxId;
}

/** A VM of the host's pool: booted ahead of demand, paused, in its own slot with its own disk. */
export const PoolEntry = z.object({
  vmId: Identifier,
  template: Identifier,
  vcpus: z.number().int(),
  memoryMib: z.number().int(),
  /** 'warming' while it is built; 'ready' once paused with its guest answering. */
  state: z.enum(['warming', 'ready']),
  slot: z.number().int().optional(),
  address: z.string().optional(),
  diskBytes: z.number().int().optional(),
  createdAt: z.iso.datetime(),
});
export type PoolEntry = z.infer<typeof PoolEntry>;

const LedgerFile = z.object({
  version: z.literal(1),
  sandboxes: z.record(z.string(), LedgerEntry),
  snapshots: z.array(Identifier).default([]),
  pool: z.record(z.string(), PoolEntry).default({}),
});
type LedgerFile = z.infer<typeof LedgerFile>;

/** How many journal lines build up before the ledger file is rewritten and the journal emptied. */
const COMPACT_AFTER_LINES = 2_000;

/**
 * The host's own truth about its sandboxes, on local disk: after a restart the worker
 * reconciles the machine against it, whatever Redis says. A change is durable when its
 * caller's promise resolves: appended to the journal (`<path>.journal`) and fdatasynced,
 * with every change that arrived meanwhile in the same append (jobs that finish together
 * share one fsync). The ledger file itself is rewritten atomically every COMPACT_AFTER_LINES
 * changes, and the journal emptied. Writes are serialized in-process; one worker owns a
 * state dir.
 */
export class HostLedger {
  readonly path: string;
  readonly #journal: LedgerJournal;
  #data: LedgerFile = { version: 1, sandboxes: {}, snapshots: [], pool: {} };
  #writes: Promise<void> = Promise.resolve();
  #pending: Promise<void> | undefined;
  #queued: JournalRecord[] = [];
  readonly #onWrite: ((ms: number) => void) | undefined;

  private constructor(path: string, onWrite?: (ms: number) => void) {
    this.path = path;
    this.#journal = new LedgerJournal(`${path}.journal`);
    this.#onWrite = onWrite;
  }

  /**
   * Opens (or starts) the ledger at `path`: the file, the journal replayed over it. Opening
   * writes nothing (a worker that cannot take the state dir's lock must change nothing).
   * `onWrite` hears how long each durable write took (metrics), in milliseconds.
   */
  static async open(path: string, options: { onWrite?: (ms: number) => void } = {}): Promise<HostLedger> {
    const ledger = new HostLedger(path, options.onWrite);
    await mkdir(dirname(path), { recursive: true });
    await ledger.#load();
    return ledger;
  }

  /** Reads a ledger without taking it over (tools and tests looking at a worker's state dir). */
  static async read(path: string): Promise<{
    sandboxes: Record<string, LedgerEntry>;
    snapshots: string[];
    pool: Record<string, PoolEntry>;
  }> {
    const ledger = new HostLedger(path);
    await ledger.#load();
    return { sandboxes: ledger.#data.sandboxes, snapshots: ledger.#data.snapshots, pool: ledger.#data.pool };
  }

  get(sandboxId: string): LedgerEntry | undefined {
    return this.#data.sandboxes[sandboxId];
  }

  entries(): LedgerEntry[] {
    return Object.values(this.#data.sandboxes);
  }

  hasSnapshot(snapshotId: string): boolean {
    return this.#data.snapshots.includes(snapshotId);
  }

  snapshots(): string[] {
    return [...this.#data.snapshots];
  }

  /** The entry whose VM, disk and runtime dir carry `resourceId` (its own id, or a pool VM's). */
  byResource(resourceId: string): LedgerEntry | undefined {
    return this.get(resourceId) ?? this.entries().find((entry) => entry.vmId === resourceId);
  }

  /** The host's pool VMs. */
  poolEntries(): PoolEntry[] {
    return Object.values(this.#data.pool);
  }

  getPool(vmId: string): PoolEntry | undefined {
    return this.#data.pool[vmId];
  }

  /** Records (or replaces) a pool VM. */
  async putPool(entry: PoolEntry): Promise<void> {
    await this.#change({ poolPut: PoolEntry.parse(entry) });
  }

  async removePool(vmId: string): Promise<void> {
    await this.#change({ poolRemove: vmId });
  }

  /**
   * A pool VM becomes a sandbox: the pool entry goes and the sandbox's comes, in one journal
   * append (a crash keeps both or neither, or at worst the removal alone, whose VM reconcile
   * then sweeps as unowned).
   */
  async takeFromPool(vmId: string, entry: LedgerEntry): Promise<void> {
    const checked = LedgerEntry.parse(entry);
    await Promise.all([this.#change({ poolRemove: vmId }), this.#change({ put: checked })]);
  }

  /** Records (or replaces) a sandbox's entry. */
  async put(entry: LedgerEntry): Promise<void> {
    const checked = LedgerEntry.parse(entry);
    await this.#change({ put: checked });
  }

  async remove(sandboxId: string): Promise<void> {
    await this.#change({ remove: sandboxId });
  }

  async addSnapshot(snapshotId: string): Promise<void> {
    await this.#change({ snapshot: snapshotId });
  }

  async removeSnapshot(snapshotId: string): Promise<void> {
    await this.#change({ unsnapshot: snapshotId });
  }

  /** Closes the journal (the worker is stopping). */
  async close(): Promise<void> {
    await this.#writes;
    await this.#journal.close();
  }

  async #load(): Promise<void> {
    const text = await readFileIfExists(this.path);
    if (text !== undefined) this.#data = parseStrict(LedgerFile, this.path, text) ?? this.#data;
    for (const record of await this.#journal.replay()) this.#apply(record);
  }

  #apply(record: JournalRecord): void {
    if ('put' in record) {
      const entry = parseStrict(LedgerEntry, this.#journal.path, JSON.stringify(record.put))!;
      this.#data.sandboxes[entry.sandboxId] = entry;
    } else if ('remove' in record) {
      delete this.#data.sandboxes[record.remove];
    } else if ('poolPut' in record) {
      const entry = parseStrict(PoolEntry, this.#journal.path, JSON.stringify(record.poolPut))!;
      this.#data.pool[entry.vmId] = entry;
    } else if ('poolRemove' in record) {
      delete this.#data.pool[record.poolRemove];
    } else if ('unsnapshot' in record) {
      this.#data.snapshots = this.#data.snapshots.filter((id) => id !== record.unsnapshot);
    } else if (!this.#data.snapshots.includes(record.snapshot)) {
      this.#data.snapshots.push(record.snapshot);
    }
  }

  // The ledger file holds everything, then the journal is emptied. A crash between the two
  // replays changes the file already has: each is a whole state, so that changes nothing.
  async #compact(): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(this.#data, null, 2)}\n`);
    await this.#journal.clear();
  }

  // Changes that arrive while a write is in flight are applied at once and appended
  // together (one fdatasync for all the jobs that finished meanwhile); each caller resolves
  // when the append that carries its change is durable.
  #change(record: JournalRecord): Promise<void> {
    this.#apply(record);
    this.#queued.push(record);
    this.#pending ??= this.#writes.then(async () => {
      this.#pending = undefined;
      const batch = this.#queued;
      this.#queued = [];
      const started = performance.now();
      try {
        await this.#journal.append(batch);
      } catch (error) {
        // Still applied in memory: the next append carries them again.
        this.#queued = [...batch, ...this.#queued];
        throw error;
      }
      if (this.#journal.lines >= COMPACT_AFTER_LINES) await this.#compact();
      this.#onWrite?.(performance.now() - started);
    });
    const next = this.#pending;
    this.#writes = next.catch(() => undefined);
    return next;
  }
}
