// A process killed at an exact point: SIGKILL the moment it makes one fs/promises call on one path.
import { execa } from 'execa';

/** How the child ended and what it printed. */
export interface KilledRun {
  signal: string | undefined;
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Runs `body` (ESM source; import modules there with `await import()`) in a child Node process
 * that SIGKILLs itself as soon as it calls fs/promises `call` on a path matching `pattern`:
 * a worker dying at that exact step, with nothing after it run.
 */
export async function runKilledAt(
  call: 'open' | 'rename',
  pattern: RegExp,
  body: string,
): Promise<KilledRun> {
  const source = `
    import { createRequire, syncBuiltinESMExports } from 'node:module';
    const fsp = createRequire(import.meta.url)('node:fs/promises');
    const original = fsp[${JSON.stringify(call)}];
    const pattern = new RegExp(${JSON.stringify(pattern.source)}, ${JSON.stringify(pattern.flags)});
    fsp[${JSON.stringify(call)}] = (path, ...rest) => {
      if (pattern.test(String(path))) process.kill(process.pid, 'SIGKILL');
      return original(path, ...rest);
    };
    // Module namespaces of builtins are live: every importer of fs/promises now sees the hook.
    syncBuiltinESMExports();
    ${body}
  `;
  const result = await execa(process.execPath, ['--input-type=module', '-e', source], {
    reject: false,
    timeout: 20_000,
  });
  return {
    signal: result.signal,
    exitCode: result.exitCode,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
  };
}
