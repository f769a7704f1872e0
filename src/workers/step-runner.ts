import type { Logger } from '../logging/logger.ts';

/** One ensure step of an operation, with the undo that rolls it back. */
export interface Step {
  name: string;
  run(): Promise<unknown>;
  /** Undoes what `run` built; must tolerate partial state. */
  undo?(): Promise<unknown>;
}

/**
 * Runs steps top to bottom. When a step fails and `rollback(error)` says the attempt is
 * over for good (a permanent error, or the last attempt), the steps that ran are undone in
 * reverse; otherwise everything stays, and the retry's ensures converge from there.
 */
export async function runSteps(
  steps: readonly Step[],
  options: {
    log: Logger;
    rollback: (error: unknown) => boolean;
    onStep?: (name: string, index: number) => void;
  },
): Promise<void> {
  const done: Step[] = [];
  for (const [index, step] of steps.entries()) {
    options.onStep?.(step.name, index);
    try {
      // A step whose run throws may have built part of itself: undo it too on rollback.
      done.push(step);
      await step.run();
    } catch (error) {
      if (options.rollback(error)) await undoAll(done, options.log);
      throw error;
    }
  }
}

async function undoAll(done: Step[], log: Logger): Promise<void> {
  for (const step of [...done].reverse()) {
    if (step.undo === undefined) continue;
    try {
      await step.undo();
      log.info({ step: step.name }, 'rolled back');
    } catch (error) {
      log.error({ step: step.name, err: error }, 'rollback step failed; the startup sweep will reclaim it');
    }
  }
}
