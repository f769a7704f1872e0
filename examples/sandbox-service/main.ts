// Runs the sandbox service: REDIS_URL and HANGAR_KEY_PREFIX name the fleet, HANGAR_JOB_KEY is
// the fleet's job key (its jobs are signed with it), HOST and PORT where it listens (PORT=0
// takes a free one). SIGTERM or Ctrl-C stop it.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { HangarClient } from 'hangar';
import { createApp } from './app.ts';

const client = await HangarClient.connect({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  keyPrefix: process.env.HANGAR_KEY_PREFIX ?? 'hangar',
  // The library reads no environment itself: an app passes the key it holds.
  ...(process.env.HANGAR_JOB_KEY ? { jobKey: process.env.HANGAR_JOB_KEY } : {}),
});
const server = createApp(client).listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1');
await once(server, 'listening');
const { address, port } = server.address() as AddressInfo;
console.log(`sandbox service listening on http://${address}:${port}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    // Open event streams would hold the server open.
    server.closeAllConnections();
    void client.close().then(() => process.exit(0));
  });
}
