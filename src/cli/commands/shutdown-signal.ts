/**
 * Resolves on the first SIGINT or SIGTERM, so a long-running command can clean up; a second
 * signal while it does exits at once (130), for a user who does not want to wait.
 */
export function untilShutdownSignal(onSecond: () => void = () => process.exit(130)): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.off('SIGINT', first).off('SIGTERM', first);
      process.once('SIGINT', onSecond).once('SIGTERM', onSecond);
      resolve(signal);
    };
    process.once('SIGINT', first).once('SIGTERM', first);
  });
}

/** Exits after `ms` unless the process has already ended by itself (a handle left open). */
export function exitSoon(code: number, ms = 3_000): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), ms).unref();
}
