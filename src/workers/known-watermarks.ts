/**
 * What this worker knows of its sandboxes' job order without asking Redis: the number up
 * to which every job of a sandbox has finished, as the worker's own FINISH answered it.
 * One worker holds a host, and only its FINISH moves its sandboxes' numbers on; others can
 * only move them further (a producer skipping a number whose add failed). So a job numbered
 * right after the known watermark may run for certain, and the GATE round trip is skipped;
 * any other job asks Redis.
 */
export class KnownWatermarks {
  readonly #finished = new Map<string, number>();

  /** Whether job `seq` of a sandbox may run now, known without asking (false: ask). */
  mayRun(sandboxId: string, seq: number): boolean {
    return this.#finished.get(sandboxId) === seq - 1;
  }

  /** Notes that every job of a sandbox up to `watermark` has finished. */
  learn(sandboxId: string, watermark: number): void {
    if (watermark > (this.#finished.get(sandboxId) ?? 0)) this.#finished.set(sandboxId, watermark);
  }

  /** Forgets a sandbox (its room was released: its numbers expire with its record). */
  forget(sandboxId: string): void {
    this.#finished.delete(sandboxId);
  }
}
