// A HangarClient in its own process, traced by hangar's own SDK as the OTEL_* environment
// configures it. argv[2]: the Redis URL (else REDIS_URL); argv[3]: the key prefix (else
// HANGAR_KEY_PREFIX); argv[4]: `create` to create a sandbox and wait for its result (prints
// `{"sandboxId","jobId"}`), or nothing to connect and close (what the module-graph recorder
// does, as it passes no arguments). Closing the client exports the spans it still holds.

import { HangarClient } from '../../../src/producer/hangar-client.ts';

const [
  redisUrl = process.env.REDIS_URL ?? '',
  keyPrefix = process.env.HANGAR_KEY_PREFIX ?? 'hangar',
  action = '',
] = process.argv.slice(2);
const client = await HangarClient.connect({ redisUrl, keyPrefix });
try {
  if (action === 'create') {
    const handle = await client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    const { sandboxId } = await handle.result();
    process.stdout.write(`${JSON.stringify({ sandboxId, jobId: handle.jobId })}\n`);
  }
} finally {
  await client.close();
}
