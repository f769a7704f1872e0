import { createHash, randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { type Logger, pino } from 'pino';

/** Writes `data` at `offset` of a file or block device and fsyncs it. */
export async function writeAt(path: string, offset: number, data: Uint8Array): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(data, 0, data.length, offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads `length` bytes at `offset` of a file or block device. */
export async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** sha256 of a whole file. */
export async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/**
 * A base image of `size` bytes: fully random (no zero run a sparse copy could skip) when
 * `dense`, otherwise holes with random 1 MiB regions at `regions`.
 */
export async function writeBaseImage(
  path: string,
  size: number,
  options: { dense: boolean; regions?: number[] },
): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(size);
    const chunk = 4 * 1024 * 1024;
    const offsets = options.dense
      ? Array.from({ length: Math.ceil(size / chunk) }, (_, i) => i * chunk)
      : (options.regions ?? []);
    for (const offset of offsets) {
      await handle.write(
        randomBytes(Math.min(options.dense ? chunk : 1024 * 1024, size - offset)),
        0,
        undefined,
        offset,
      );
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A pino logger that keeps each line's message and fields, for asserting what was said. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines };
}
