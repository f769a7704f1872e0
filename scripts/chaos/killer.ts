import type { PrivateRedis } from './private-redis.ts';
import type { Prng } from './prng.ts';
import type { KillRecord } from './recovery.ts';
import { sleep } from './sleep.ts';
import type { WorkerSupervisor } from './worker-supervisor.ts';

/** What a kill schedule needs besides its targets. */
export interface KillOptions {
  prng: Prng;
  restartDelayMs: readonly [number, number];
  signal: AbortSignal;
  /** Calls in flight right now (recorded with each kill). */
  inFlight: () => number;
  log: (line: string) => void;
}

const draw = (prng: Prng, [min, max]: readonly [number, number]) => prng.int(min, max);

/**
 * Phase 1: SIGKILLs the worker `count` times, each at a random moment after it said it was
 * consuming, and starts it again after a random short delay, waiting until it is consuming.
 * When restarts are slow enough that the kills would not be over by `killsBy`, the longest
 * uptime drawn shrinks (never below the shortest), so the campaign keeps to its time.
 */
export async function killWorkerRepeatedly(
  worker: WorkerSupervisor,
  count: number,
  options: KillOptions & {
    uptimeMs: readonly [number, number];
    killsBy: number;
    onKillsLeft?: (left: number) => void;
  },
  kills: KillRecord[],
): Promise<void> {
  const { prng, signal, log } = options;
  const [shortest, longest] = options.uptimeMs;
  let restartMs = 0;
  for (let i = 1; i <= count && !signal.aborted; i++) {
    const perKill = (options.killsBy - Date.now()) / (count - i + 1) - restartMs;
    const upTo = Math.round(Math.min(longest, Math.max(shortest, perKill)));
    await sleep(prng.int(shortest, upTo), signal);
    if (signal.aborted) break;
    const inFlight = options.inFlight();
    const killed = await worker.kill();
    await sleep(draw(prng, options.restartDelayMs), signal);
    const readyAt = await worker.start();
    const at = killed?.at ?? readyAt;
    kills.push({ kind: 'worker', at, readyAt, inFlight, pid: killed?.pid });
    restartMs = readyAt - at;
    options.onKillsLeft?.(count - i);
    log(
      `worker kill ${i}/${count}: pid ${killed?.pid} with ${inFlight} calls in flight; consuming again after ${readyAt - at} ms`,
    );
  }
}

/**
 * Phase 2: SIGKILLs the redis-server `count` times at random moments and starts it again from
 * its AOF after a random short delay; now and then (never in the last two rounds, so the end
 * is not one long lock expiry) the worker is killed while Redis is down, and started again
 * once Redis answers.
 */
export async function killRedisRepeatedly(
  redis: PrivateRedis,
  worker: WorkerSupervisor,
  count: number,
  options: KillOptions & { uptimeMs: readonly [number, number]; workerKillChance: number },
  kills: KillRecord[],
): Promise<void> {
  const { prng, signal, log } = options;
  for (let i = 1; i <= count && !signal.aborted; i++) {
    await sleep(draw(prng, options.uptimeMs), signal);
    if (signal.aborted) break;
    const alsoWorker = i <= count - 2 && prng.chance(options.workerKillChance);
    const inFlight = options.inFlight();
    const at = await redis.kill();
    const workerKilled = alsoWorker ? await worker.kill() : undefined;
    await sleep(draw(prng, options.restartDelayMs), signal);
    const readyAt = await redis.restart();
    kills.push({ kind: 'redis', at, readyAt, inFlight });
    let note = '';
    if (workerKilled !== undefined) {
      await sleep(draw(prng, options.restartDelayMs), signal);
      const workerReady = await worker.start();
      kills.push({
        kind: 'worker',
        at: workerKilled.at,
        readyAt: workerReady,
        inFlight,
        pid: workerKilled.pid,
      });
      note = `; worker pid ${workerKilled.pid} killed too, consuming again after ${workerReady - workerKilled.at} ms`;
    }
    log(
      `redis kill ${i}/${count} with ${inFlight} calls in flight: answering again after ${readyAt - at} ms${note}`,
    );
  }
}
