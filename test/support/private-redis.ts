import { execa, type ResultPromise } from 'execa';
import { redisAnswers } from '../../src/cli/commands/redis-ping.ts';
import { freePort } from '../../src/demo/free-port.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { makeTempDir, type TempDir } from './temp-dir.ts';

/** A redis-server of a test's own on a fixed port, so the test can kill it and start it again on its data. */
export interface PrivateRedis {
  url: string;
  port: number;
  /** The server's pid now (it changes with every start). */
  readonly pid: number | undefined;
  /** SIGKILLs the server (nothing saved on the way out) and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (it loads its AOF) and waits until it answers. */
  start(): Promise<void>;
  /** Kills the server and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port with its data in a fresh temp directory; with
 * `appendOnly` every write is in its AOF before it is answered (appendfsync always), so a
 * SIGKILL and a restart lose nothing.
 */
export async function startPrivateRedis(options: { appendOnly?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir: TempDir = await makeTempDir('hangar-redis-');
  const url = `redis://127.0.0.1:${port}`;
  const argv = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir.path,
    '--save',
    '',
    '--appendonly',
    options.appendOnly === true ? 'yes' : 'no',
    '--appendfsync',
    'always',
  ];
  let child: ResultPromise | undefined;
  const kill = async () => {
    const running = child;
    child = undefined;
    if (running === undefined) return;
    running.kill('SIGKILL');
    await running;
  };
  const start = async () => {
    const started = execa('redis-server', argv, { reject: false, stdin: 'ignore', stdout: 'ignore' });
    child = started;
    let exited: string | undefined;
    void started.then((result) => {
      exited = `redis-server exited (${result.exitCode ?? result.signal}): ${String(result.stderr)}`;
    });
    try {
      await pollUntil(
        `redis-server on port ${port}`,
        async () => {
          if (exited !== undefined) throw new Error(exited);
          return (await redisAnswers(url, 500)) ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );
    } catch (error) {
      await kill();
      throw error;
    }
  };
  await start().catch(async (error: unknown) => {
    await dir.remove();
    throw error;
  });
  return {
    url,
    port,
    get pid() {
      return child?.pid;
    },
    kill,
    start,
    async stop() {
      await kill();
      await dir.remove();
    },
  };
}
