// Teardown steps registered as resources are made, so a failure or Ctrl-C anywhere undoes
// exactly what exists: `run()` undoes everything left, newest first; a step can also be run
// early (a phase ending) through the function `add` returns. Each step runs once.

/** A stack of teardown steps. */
export class Cleanups {
  readonly #steps: { what: string; undo: () => Promise<void> }[] = [];

  /** Registers `undo`; calling the returned function runs it now (once) and unregisters it. */
  add(what: string, undo: () => Promise<void>): () => Promise<void> {
    const step = { what, undo };
    this.#steps.push(step);
    return async () => {
      const index = this.#steps.indexOf(step);
      if (index === -1) return;
      this.#steps.splice(index, 1);
      await runStep(step);
    };
  }

  /** Runs every step left, newest first; a failing step is reported and the rest still run. */
  async run(): Promise<void> {
    while (this.#steps.length > 0) await runStep(this.#steps.pop()!);
  }
}

async function runStep(step: { what: string; undo: () => Promise<void> }): Promise<void> {
  try {
    await step.undo();
  } catch (error) {
    console.error(`cleanup: ${step.what} failed:`, error);
  }
}
