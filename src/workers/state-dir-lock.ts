import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ConflictError } from '../errors/index.ts';

/** The lock of one worker on its state directory, held until `release()` or the process's death. */
export interface StateDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Takes an exclusive flock(2) on `<stateDir>/worker.lock`, or fails with ConflictError
 * naming the holder. Node has no flock, so `flock` locks the open file description this
 * process holds (passed as fd 3) and exits; the lock then lives exactly as long as this
 * process keeps the file open, and the kernel drops it when the process dies, however it
 * dies. Node opens files close-on-exec, so VMMs this worker starts never inherit it.
 */
export async function lockStateDir(stateDir: string, holder: { hostId: string }): Promise<StateDirLock> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, 'worker.lock');
  const handle = await open(path, 'a+', 0o600);
  // execa's types have no raw fd in `stdio`; Node's spawn takes one, and execa passes it on.
  const stdio = ['ignore', 'ignore', 'pipe', handle.fd] as unknown as ['ignore', 'ignore', 'pipe'];
  const locked = await execa('flock', ['--exclusive', '--nonblock', '3'], { stdio, reject: false });
  if (locked.exitCode !== 0) {
    await handle.close();
    const current = await readFile(path, 'utf8').catch(() => '');
    throw new ConflictError(
      `state dir ${stateDir} is in use by another worker (${current.trim() || 'holder unknown'}); one worker per state dir`,
      { stateDir, holder: current.trim() },
    );
  }
  await handle.truncate(0);
  await handle.write(
    `${JSON.stringify({ pid: process.pid, hostId: holder.hostId, since: new Date().toISOString() })}\n`,
    0,
  );
  return {
    path,
    release: () => handle.close(),
  };
}
