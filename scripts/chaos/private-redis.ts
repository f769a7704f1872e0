import { mkdir } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { redisAnswers } from '../../src/cli/commands/redis-ping.ts';
import { freePort } from '../../src/demo/free-port.ts';
import { sleep } from './sleep.ts';

const READY_TIMEOUT_MS = 30_000;

/**
 * A redis-server of the campaign's own on a free port, persisting every write to its AOF
 * before answering (appendfsync always), so a SIGKILL loses nothing acknowledged and a
 * restart from the same directory brings every key back.
 */
export class PrivateRedis {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  #child: ResultPromise | undefined;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts a server with its AOF in `dir` and waits until it answers PING. */
  static async start(dir: string): Promise<PrivateRedis> {
    await mkdir(dir, { recursive: true });
    const redis = new PrivateRedis(await freePort(), dir);
    await redis.restart();
    return redis;
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the server again from its AOF; resolves with the time it answered PING. */
  async restart(): Promise<number> {
    if (this.#child !== undefined) throw new Error(`redis-server on ${this.port} is already running`);
    const argv = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--dir',
      this.dir,
    ];
    const child = execa('redis-server', argv, {
      reject: false,
      cleanup: true,
      buffer: false,
      stdio: 'ignore',
    });
    this.#child = child;
    let exited = false;
    void child.then(() => {
      exited = true;
      if (this.#child === child) this.#child = undefined;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await redisAnswers(this.url, 500))) {
      if (exited) throw new Error(`redis-server on port ${this.port} exited while starting`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer`);
      await sleep(25);
    }
    return Date.now();
  }

  /** SIGKILLs the server by pid; resolves with the kill time once it is gone. */
  async kill(): Promise<number> {
    const child = this.#child;
    if (child === undefined) throw new Error(`redis-server on ${this.port} is not running`);
    const at = Date.now();
    child.kill('SIGKILL');
    await child;
    this.#child = undefined;
    return at;
  }

  /** Stops the server with SIGTERM (it is started again by nobody). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await child;
    clearTimeout(timer);
    this.#child = undefined;
  }
}
