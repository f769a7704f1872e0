import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ChState } from '../../src/vmm/simulator/ch-answers/index.ts';
import { rawChCall, testVmConfig } from './ch-sim.ts';

/** A receiver that accepts a migration connection and never answers: keeps a sender migrating. */
export interface SilentReceiver {
  path: string;
  close(): Promise<void>;
}

/** Listens on `path` and holds every connection open without a word. */
export async function silentReceiver(path: string): Promise<SilentReceiver> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A PUT that must answer 2xx, raw (the simulator is driven as CH would be, not through our client). */
async function put(socketPath: string, endpoint: string, body?: unknown): Promise<void> {
  const answer = await rawChCall(
    socketPath,
    'PUT',
    endpoint,
    body === undefined ? undefined : JSON.stringify(body),
  );
  if (answer.status >= 300) throw new Error(`${endpoint} answered ${answer.status}: ${answer.text}`);
}

/**
 * Drives a fresh simulator into `state` with raw API calls (the table's CH_STATES): a restore
 * needs `snapshotDir`; migrating sends to a silent receiver made in `workDir`, returned so the
 * caller closes it.
 */
export async function reachState(
  socketPath: string,
  state: ChState,
  options: { snapshotDir: string; workDir: string },
): Promise<SilentReceiver | undefined> {
  if (state === 'no-vm') return undefined;
  if (state === 'restored') {
    await put(socketPath, 'vm.restore', { source_url: `file://${options.snapshotDir}` });
    return undefined;
  }
  await put(socketPath, 'vm.create', testVmConfig());
  if (state === 'created') return undefined;
  await put(socketPath, 'vm.boot');
  if (state === 'paused') await put(socketPath, 'vm.pause');
  if (state === 'shut-down') await put(socketPath, 'vm.shutdown');
  if (state !== 'migrating') return undefined;
  const receiver = await silentReceiver(join(options.workDir, 'hold.sock'));
  await put(socketPath, 'vm.send-migration', { destination_url: `unix:${receiver.path}` });
  return receiver;
}
