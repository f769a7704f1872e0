import type { ResultPromise } from 'execa';

/** Resolves with everything a child printed once `pattern` shows up on its stdout. */
export function waitForOutput(child: ResultPromise, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms; got:\n${text}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    void child.then((result) => {
      clearTimeout(timer);
      reject(new Error(`exited (${result.exitCode}) before ${pattern}:\n${text}\n${String(result.stderr)}`));
    });
  });
}
