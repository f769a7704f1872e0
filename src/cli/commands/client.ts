import type { HangarClient } from '../../producer/hangar-client.ts';
import type { FleetFlags } from './cli-options.ts';
import { pingRedis } from './redis-ping.ts';

/** Runs `use` with a client of the fleet the flags name, and closes it afterwards. */
export async function withClient<T>(
  flags: FleetFlags,
  use: (client: HangarClient) => Promise<T>,
): Promise<T> {
  await pingRedis(flags.redis);
  // Loaded here, not at startup, so `hangar --help` stays quick.
  const { HangarClient } = await import('../../producer/hangar-client.ts');
  const client = await HangarClient.connect({ redisUrl: flags.redis, keyPrefix: flags.prefix });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}
