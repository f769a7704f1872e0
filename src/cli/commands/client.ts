import type { HangarClient } from '../../producer/hangar-client.ts';
import { readRedisTls } from '../../redis/redis-tls.ts';
import { resolveJobKey } from '../../signing/job-key-file.ts';
import { type FleetFlags, redisTlsFromFlags } from './cli-options.ts';
import { pingRedis } from './redis-ping.ts';

/**
 * Runs `use` with a client of the fleet the flags name, and closes it afterwards. Its jobs
 * are signed with the key of --job-key-file, else HANGAR_JOB_KEY, when either is given.
 */
export async function withClient<T>(
  flags: FleetFlags,
  use: (client: HangarClient) => Promise<T>,
): Promise<T> {
  const redisTls = await readRedisTls(redisTlsFromFlags(flags));
  const jobKey = await resolveJobKey(flags.jobKeyFile === undefined ? {} : { flagFile: flags.jobKeyFile });
  await pingRedis(flags.redis, undefined, redisTls);
  // Loaded here, not at startup, so `hangar --help` stays quick.
  const { HangarClient } = await import('../../producer/hangar-client.ts');
  const client = await HangarClient.connect({
    redisUrl: flags.redis,
    keyPrefix: flags.prefix,
    ...(redisTls === undefined ? {} : { redisTls }),
    ...(jobKey === undefined ? {} : { jobKey }),
  });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}
