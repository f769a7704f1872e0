import type { HostContext } from './host-context.ts';

/**
 * Bounds how many snapshots of one batch run at once on this host (the batch's
 * concurrencyPerHost), and counts each finished child into the batch's progress.
 */
export class BatchGate {
  readonly #limits = new Map<string, { running: number; limit: number; queue: (() => void)[] }>();

  /** Runs `task` when the batch has a free place on this host. */
  async run<T>(ctx: HostContext, batchId: string, task: () => Promise<T>): Promise<T> {
    let gate = this.#limits.get(batchId);
    if (gate === undefined) {
      const limit = (await ctx.store.batches.get(batchId))?.concurrencyPerHost ?? 2;
      gate = this.#limits.get(batchId) ?? { running: 0, limit: Math.max(1, limit), queue: [] };
      this.#limits.set(batchId, gate);
    }
    const current = gate;
    if (current.running >= current.limit) await new Promise<void>((resolve) => current.queue.push(resolve));
    current.running += 1;
    try {
      return await task();
    } finally {
      current.running -= 1;
      const next = current.queue.shift();
      if (next !== undefined) next();
      else if (current.running === 0) this.#limits.delete(batchId);
    }
  }

  /** Counts a finished child once (ok or failed for good) and publishes the batch's progress. */
  async count(ctx: HostContext, batchId: string, jobId: string, ok: boolean): Promise<void> {
    const progress = await ctx.store.batches.countChild(batchId, jobId, ok);
    await ctx.events.publish({
      type: 'batch.progress',
      at: new Date().toISOString(),
      hostId: ctx.hostId,
      batchId,
      ...progress,
    });
  }
}
