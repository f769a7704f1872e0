/**
 * Readers and writers of snapshots on this host, per snapshot id: restores read a
 * snapshot's files (any number at once: a fork fan-out), a delete removes them and waits
 * until no restore reads them, and no restore starts while a delete runs.
 */
export class SnapshotLocks {
  readonly #readers = new Map<string, number>();
  readonly #writing = new Map<string, Promise<void>>();
  readonly #drained = new Map<string, (() => void)[]>();

  /** Runs `task` while it may read the snapshot's files. */
  async read<T>(snapshotId: string, task: () => Promise<T>): Promise<T> {
    for (
      let writer = this.#writing.get(snapshotId);
      writer !== undefined;
      writer = this.#writing.get(snapshotId)
    ) {
      await writer.catch(() => undefined);
    }
    this.#readers.set(snapshotId, (this.#readers.get(snapshotId) ?? 0) + 1);
    try {
      return await task();
    } finally {
      const left = (this.#readers.get(snapshotId) ?? 1) - 1;
      if (left > 0) this.#readers.set(snapshotId, left);
      else {
        this.#readers.delete(snapshotId);
        for (const wake of this.#drained.get(snapshotId) ?? []) wake();
        this.#drained.delete(snapshotId);
      }
    }
  }

  /** Runs `task` alone: after every read in progress, before any read that comes after. */
  async write<T>(snapshotId: string, task: () => Promise<T>): Promise<T> {
    for (
      let writer = this.#writing.get(snapshotId);
      writer !== undefined;
      writer = this.#writing.get(snapshotId)
    ) {
      await writer.catch(() => undefined);
    }
    let done!: () => void;
    this.#writing.set(snapshotId, new Promise<void>((resolve) => (done = resolve)));
    try {
      if ((this.#readers.get(snapshotId) ?? 0) > 0) {
        await new Promise<void>((resolve) =>
          this.#drained.set(snapshotId, [...(this.#drained.get(snapshotId) ?? []), resolve]),
        );
      }
      return await task();
    } finally {
      this.#writing.delete(snapshotId);
      done();
    }
  }

  /** Whether anyone reads or writes the snapshot now (garbage collection leaves its files alone). */
  busy(snapshotId: string): boolean {
    return (this.#readers.get(snapshotId) ?? 0) > 0 || this.#writing.has(snapshotId);
  }
}
