import { open } from 'node:fs/promises';

// Enough bytes for ~30 lines of VMM output without reading a log that grew for days.
const TAIL_BYTES = 16 * 1024;

async function tailOf(path: string, lines: number): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const all = buffer.toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    // A read that started mid-file begins with a partial line: drop it.
    if (size > length) all.shift();
    return all.slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}

/**
 * The last `lines` lines of each existing file, each under a `==> path <==` header (as tail
 * prints them): what a crash or launch failure report shows of the VMM's output.
 */
export async function readLogTail(paths: readonly (string | undefined)[], lines = 30): Promise<string> {
  const parts: string[] = [];
  for (const path of paths) {
    if (path === undefined) continue;
    const tail = await tailOf(path, lines);
    if (tail !== undefined && tail.length > 0) parts.push(`==> ${path} <==\n${tail}`);
  }
  return parts.join('\n');
}
