// Ctrl-C during a bench must not leave kernel objects behind: the first signal asks the
// bench loops to stop (they check `interrupted()` between samples) and the cleanup runs as
// the body unwinds; a second signal runs the cleanup at once and exits.

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Thrown by interruptible after a signal: the run stops, and its partial figures are not kept. */
export class BenchInterrupted extends Error {
  constructor() {
    super('bench interrupted');
    this.name = 'BenchInterrupted';
  }
}

/** Runs `body`, then `cleanup` whatever happened; on a signal, stops early and still cleans up. */
export async function interruptible<T>(
  cleanup: () => Promise<void>,
  body: (interrupted: () => boolean) => Promise<T>,
): Promise<T> {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!signalled) {
      signalled = true;
      console.error(`\n${signal}: stopping after the current sample, then cleaning up (again to force)`);
      return;
    }
    console.error(`${signal}: cleaning up now`);
    cleanup().finally(() => process.exit(130));
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    const result = await body(() => signalled);
    if (signalled) throw new BenchInterrupted();
    return result;
  } finally {
    try {
      await cleanup();
    } finally {
      for (const signal of SIGNALS) process.off(signal, onSignal);
    }
  }
}
