import type { HangarEvent } from '../events/event-schemas.ts';
import type { SandboxRecord } from '../state/record-schemas.ts';

/** A sandbox's record as its job left it, with the event of its state change. */
export interface PendingRecord {
  record: SandboxRecord;
  event: HangarEvent;
}

/**
 * Records whose Redis write waits for their job's end: the state a job leaves a sandbox
 * in is written by the job's one FINISH step (record, indexes, events, outcome together),
 * saving a round trip per job. The ledger already holds the state (fsynced), so a worker
 * that dies before FINISH republishes it at start. Any other write of the same sandbox's
 * record supersedes the pending one.
 */
export class PendingRecords {
  readonly #pending = new Map<string, PendingRecord>();

  /** Holds a record for its job's FINISH. */
  defer(pending: PendingRecord): void {
    this.#pending.set(pending.record.sandboxId, pending);
  }

  /** Takes a sandbox's pending record (FINISH writes it). */
  take(sandboxId: string): PendingRecord | undefined {
    const pending = this.#pending.get(sandboxId);
    this.#pending.delete(sandboxId);
    return pending;
  }

  /** Drops a pending record that a newer write supersedes. */
  drop(sandboxId: string): void {
    this.#pending.delete(sandboxId);
  }
}
