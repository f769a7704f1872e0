// Who sends what: MONITOR over a window, each command attributed to the loop that sent it
// (by the keys it touches) and told apart by source: sent by a client (one command on the
// wire; a MULTI or pipeline sends several per round trip) or run inside a Lua script (MONITOR
// shows those right after their EVALSHA, source "lua"; they belong to the script's loop).
// INFO commandstats counts both kinds alike, so the two figures side by side say how much
// of an operation's work is round trips and how much runs server-side.
import { Redis } from 'ioredis';

/** The loops an idle worker runs, and everything else. */
export type Loop = 'heartbeat' | 'lostHost' | 'bullmq' | 'other';

/** Commands seen per loop: all of them, and those a client sent. */
export type Watched = Record<Loop, { all: number; client: number }>;

/** The loop a client command belongs to, from the keys it touches (hangar's and BullMQ's key names). */
export function loopOf(args: readonly string[]): Loop {
  const command = String(args[0] ?? '').toLowerCase();
  const keys =
    command === 'evalsha' || command === 'eval'
      ? args.slice(3, 3 + Number(args[2] ?? 0))
      : args.slice(1).filter((arg) => arg.includes(':'));
  const touches = (pattern: RegExp) => keys.some((key) => pattern.test(key));
  if (touches(/lease/)) return 'heartbeat';
  if (touches(/hosts-seen|:lost:/)) return 'lostHost';
  if (touches(/:host-|:batch:/)) return 'bullmq';
  return 'other';
}

/** The bench's own probes, never counted. */
const PROBES = new Set(['info', 'monitor']);

/** Watches every command the server runs until `stop()`. */
export async function watchCommands(redisUrl: string): Promise<{ stop(): Watched }> {
  const watcher = new Redis(redisUrl, { maxRetriesPerRequest: null });
  watcher.on('error', () => undefined);
  const seen: Watched = {
    heartbeat: { all: 0, client: 0 },
    lostHost: { all: 0, client: 0 },
    bullmq: { all: 0, client: 0 },
    other: { all: 0, client: 0 },
  };
  let scriptLoop: Loop = 'other';
  const monitor = await watcher.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (PROBES.has(String(args[0]).toLowerCase())) return;
    if (source === 'lua') {
      seen[scriptLoop].all += 1;
      return;
    }
    const loop = loopOf(args);
    scriptLoop = loop;
    seen[loop].all += 1;
    seen[loop].client += 1;
  });
  return {
    stop() {
      monitor.disconnect();
      watcher.disconnect();
      return seen;
    },
  };
}

/** Client commands of every loop together. */
export function clientTotal(watched: Watched): number {
  return Object.values(watched).reduce((sum, counts) => sum + counts.client, 0);
}
