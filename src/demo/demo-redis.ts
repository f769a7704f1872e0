import { execa, type ResultPromise } from 'execa';
import { redisAnswers } from '../cli/commands/redis-ping.ts';
import { CommandError } from '../errors/index.ts';
import { pollUntil } from '../util/poll.ts';
import { freePort } from './free-port.ts';

/** Which Redis the demo uses and where it came from. */
export interface DemoRedis {
  url: string;
  /** 'env' (REDIS_URL), 'local' (the one on 127.0.0.1:6379) or 'private' (started for this run). */
  source: 'env' | 'local' | 'private';
  /** Stops a private redis-server (nothing for the others). */
  stop(): Promise<void>;
}

/** The Redis the demo looks for before starting its own. */
export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * REDIS_URL when set; else the Redis on 127.0.0.1:6379 if it answers PING; else a private
 * `redis-server` on a free port with persistence off, stopped again by `stop()`.
 */
export async function demoRedis(
  options: { env?: NodeJS.ProcessEnv; localUrl?: string } = {},
): Promise<DemoRedis> {
  const none = async () => undefined;
  const env = options.env ?? process.env;
  const localUrl = options.localUrl ?? LOCAL_REDIS_URL;
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== '') {
    return { url: env.REDIS_URL, source: 'env', stop: none };
  }
  if (await redisAnswers(localUrl, 1_000)) return { url: localUrl, source: 'local', stop: none };
  return startPrivateRedis();
}

/** A private `redis-server` on a free loopback port with persistence off; `stop()` ends it. */
export async function startPrivateRedis(): Promise<DemoRedis> {
  const port = await freePort();
  const argv = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child: ResultPromise = execa('redis-server', argv, {
    reject: false,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  });
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill('SIGTERM');
    await child;
  };
  const exited = child.then((result) => {
    const exitCode = typeof result.exitCode === 'number' ? result.exitCode : undefined;
    throw new CommandError(
      ['redis-server', ...argv],
      exitCode,
      String(result.stderr || result.shortMessage || ''),
    );
  });
  exited.catch(() => undefined);
  try {
    await Promise.race([
      pollUntil(
        `redis-server on port ${port}`,
        async () => ((await redisAnswers(url, 500)) ? true : undefined),
        {
          timeoutMs: 10_000,
          intervalMs: 100,
        },
      ),
      exited,
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, source: 'private', stop };
}
