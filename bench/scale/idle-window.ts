// What an idle worker costs Redis: INFO commandstats over a fixed window with no operation
// running and the stand-in hosts quiet, and MONITOR over the same window to say which loop
// ran each command: the heartbeat (its script renews the lease), the lost-host check (the
// last-seen index, lost marks), BullMQ's idle polling, and the rest (maintenance, chatter).
import type { Redis } from 'ioredis';
import { clientTotal, type Loop, watchCommands } from './command-watch.ts';
import { type CommandCounts, commandCounts, countsDelta, perOperation, totalOf } from './redis-counters.ts';

/** Per minute: each loop's commands (all, and sent by a client); the window's rates per second. */
export interface IdleFigures {
  windowMs: number;
  perMinute: Record<Loop, { all: number; client: number }> & { total: number };
  perSecond: CommandCounts;
  clientPerSecond: number;
}

/** Watches the server for `windowMs` with nothing else running; `redis` reads the counters. */
export async function idleWindow(redis: Redis, redisUrl: string, windowMs: number): Promise<IdleFigures> {
  const watch = await watchCommands(redisUrl);
  let watched: ReturnType<typeof watch.stop> | undefined;
  try {
    const before = await commandCounts(redis);
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const seconds = (performance.now() - started) / 1000;
    const delta = countsDelta(await commandCounts(redis), before);
    watched = watch.stop();
    // MONITOR's own command, counted by commandstats.
    delta.delete('monitor');
    const scale = 60 / seconds;
    const per = (loop: Loop) => ({ all: watched![loop].all * scale, client: watched![loop].client * scale });
    return {
      windowMs,
      perMinute: {
        heartbeat: per('heartbeat'),
        lostHost: per('lostHost'),
        bullmq: per('bullmq'),
        other: per('other'),
        total: totalOf(delta) * scale,
      },
      perSecond: perOperation(delta, seconds),
      clientPerSecond: clientTotal(watched) / seconds,
    };
  } finally {
    if (watched === undefined) watch.stop();
  }
}
