import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../../redis/connections.ts';

/** A Lua script with its SHA1, run by EVALSHA and loaded on the first NOSCRIPT (after a Redis restart too). */
export class RedisScript {
  readonly lua: string;
  readonly sha: string;

  constructor(lua: string) {
    this.lua = lua;
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script: one round trip in the common case, two after a server restart. */
  async run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }

  /** Queues the script on a MULTI/pipeline (EVAL, so it never depends on the script cache). */
  queue(chain: ChainableCommander, keys: readonly string[], args: readonly (string | number)[]): void {
    chain.eval(this.lua, keys.length, ...keys, ...args);
  }
}
