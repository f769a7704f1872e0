import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SandboxState } from '../events/event-schemas.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { readFileIfExists } from '../util/read-file-if-exists.ts';
import { Identifier } from '../validation/identifiers.ts';
import { parseStrict } from './fleet-store.ts';
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
});
export type LedgerEntry = z.infer<typeof LedgerEntry>;

const LedgerFile = z.object({
  version: z.literal(1),
  sandboxes: z.record(z.string(), LedgerEntry),
  snapshots: z.array(Identifier).default([]),
});
type LedgerFile = z.infer<typeof LedgerFile>;

/**
 * The host's own truth about its sandboxes, on local disk and written atomically: after a
 * restart the worker reconciles the machine against it, whatever Redis says. Writes are
 * serialized in-process; one worker owns a state directory.
 */
export class HostLedger {
  readonly path: string;
  #data: LedgerFile = { version: 1, sandboxes: {}, snapshots: [] };
  #writes: Promise<void> = Promise.resolve();
  #pending: Promise<void> | undefined;

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens (or starts) the ledger at `path`. */
  static async open(path: string): Promise<HostLedger> {
    const ledger = new HostLedger(path);
    await mkdir(dirname(path), { recursive: true });
    const text = await readFileIfExists(path);
    if (text !== undefined) ledger.#data = parseStrict(LedgerFile, path, text) ?? ledger.#data;
    return ledger;
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

  /** Records (or replaces) a sandbox's entry. */
  async put(entry: LedgerEntry): Promise<void> {
    const checked = LedgerEntry.parse(entry);
    await this.#mutate((data) => {
      data.sandboxes[checked.sandboxId] = checked;
    });
  }

  /** Changes a sandbox's state, keeping the rest of its entry. */
  async setState(sandboxId: string, state: SandboxState): Promise<void> {
    await this.#mutate((data) => {
      const entry = data.sandboxes[sandboxId];
      if (entry !== undefined) entry.state = state;
    });
  }

  async remove(sandboxId: string): Promise<void> {
    await this.#mutate((data) => {
      delete data.sandboxes[sandboxId];
    });
  }

  async addSnapshot(snapshotId: string): Promise<void> {
    await this.#mutate((data) => {
      if (!data.snapshots.includes(snapshotId)) data.snapshots.push(snapshotId);
    });
  }

  /** Records a sandbox's entry and a finished snapshot in one write (one fsync). */
  async putWithSnapshot(entry: LedgerEntry, snapshotId: string): Promise<void> {
    const checked = LedgerEntry.parse(entry);
    await this.#mutate((data) => {
      data.sandboxes[checked.sandboxId] = checked;
      if (!data.snapshots.includes(snapshotId)) data.snapshots.push(snapshotId);
    });
  }

  // Changes that arrive while a write is in flight are applied together and written once
  // (one fsync for all the jobs that finished meanwhile); each caller resolves when the
  // write that carries its change is durable.
  #mutate(change: (data: LedgerFile) => void): Promise<void> {
    change(this.#data);
    this.#pending ??= this.#writes.then(async () => {
      this.#pending = undefined;
      await writeFileAtomic(this.path, `${JSON.stringify(this.#data, null, 2)}\n`);
    });
    const next = this.#pending;
    this.#writes = next.catch(() => undefined);
    return next;
  }
}
