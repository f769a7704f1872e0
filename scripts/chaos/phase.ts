import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisAnswers } from '../../src/cli/commands/redis-ping.ts';
import { parseWorkerConfig } from '../../src/config/worker-config.ts';
import { type NetworkConfig, parseNetworkConfig } from '../../src/network/index.ts';
import { HangarClient } from '../../src/producer/index.ts';
import { redact } from '../../src/redis/redact.ts';
import { CensusTaker, type PhaseCensus } from './census.ts';
import type { DoubleEffects } from './double-effects.ts';
import type { FinalDestroy } from './final-destroy.ts';
import type { JobSummary } from './job-summary.ts';
import { JobTracker } from './job-tracker.ts';
import { killRedisRepeatedly, killWorkerRepeatedly } from './killer.ts';
import type { CampaignOptions } from './options.ts';
import { finishPhase, type PhaseFindings } from './phase-end.ts';
import { PrivateRedis } from './private-redis.ts';
import type { Prng } from './prng.ts';
import { type KillRecord, type RecoverySummary, recoveryAfter } from './recovery.ts';
import { type AfterTeardown, teardownPhase } from './teardown.ts';
import { type UnexpectedExit, WorkerSupervisor } from './worker-supervisor.ts';
import { type CallStats, WORKLOAD_LABEL, Workload } from './workload.ts';

/** Everything one phase found. */
export interface PhaseReport {
  phase: 1 | 2;
  hostId: string;
  keyPrefix: string;
  network: { prefix: string; vethRange: string; hostRange: string };
  redis: string;
  durationMs: number;
  kills: {
    worker: number;
    redis: number;
    failedWorkerStarts: number;
    unexpectedWorkerExits: UnexpectedExit[];
  };
  calls: CallStats | undefined;
  jobs: JobSummary | undefined;
  finalDestroy: FinalDestroy | undefined;
  doubleEffects: DoubleEffects | undefined;
  leaks: { total: number; beforeTeardown: PhaseCensus | undefined; afterTeardown: AfterTeardown };
  recovery: { afterWorkerKill: RecoverySummary; afterRedisKill: RecoverySummary };
  eventsRead: number;
  /** Whether the queues emptied after the last answer (a redelivered job can take a lock's life). */
  queuesSettled: { idle: boolean; waitedMs: number } | undefined;
  /** What went wrong in the harness itself (the figures are then incomplete). */
  errors: string[];
}

/** How a phase is run: the campaign's options, its own random stream, a log and an abort. */
export interface PhaseContext {
  options: CampaignOptions;
  prng: Prng;
  signal: AbortSignal;
  log: (line: string) => void;
  /** Told how many kills are left after each one (0 once they are over; the next phase may start). */
  onKillsLeft?: (left: number) => void;
  /** When the campaign must be over (ms since the epoch). */
  deadlineAt: number;
}

// The share of the campaign's time phase 1's kills aim to be over by (the rest: its drain,
// destroy and census, with phase 2 running alongside).
const KILLS_SHARE = 0.62;
// The longest the kills wait for the workload's sandboxes to be up.
const WARM_UP_MS = 30_000;

/**
 * One phase of the campaign: a worker (and in phase 2 a private Redis) of its own, the random
 * workload and the kills; then every job's answer, the destroy of every sandbox, the audits and
 * the census; and a teardown that leaves nothing of the phase behind, checked.
 */
export async function runPhase(phase: 1 | 2, context: PhaseContext): Promise<PhaseReport> {
  const { options, log, signal } = context;
  const startedAt = Date.now();
  const id = randomBytes(3).toString('hex');
  const hostId = `chaos${phase}-${id}`;
  const keyPrefix = `chaos-${id}-p${phase}`;
  const network = phaseNetwork(options, phase);
  const runDir = await mkdtemp(join(tmpdir(), `hangar-chaos-p${phase}-`));
  const stateDir = join(runDir, 'state');
  const errors: string[] = [];
  const kills: KillRecord[] = [];
  const tracker = new JobTracker({ resultTimeoutMs: options.resultTimeoutMs });
  let found: PhaseFindings | undefined;
  let privateRedis: PrivateRedis | undefined;
  let worker: WorkerSupervisor | undefined;
  let client: HangarClient | undefined;
  let census: CensusTaker | undefined;
  let workload: Workload | undefined;
  try {
    privateRedis = phase === 2 ? await PrivateRedis.start(join(runDir, 'redis')) : undefined;
    const redisUrl = privateRedis?.url ?? options.redisUrl;
    if (!(await redisAnswers(redisUrl, 3_000)))
      throw new Error(`no Redis answers at ${redact(redisUrl)} (--redis)`);
    worker = new WorkerSupervisor({
      hostId,
      stateDir,
      keyPrefix,
      redisUrl,
      network,
      simLatency: options.simLatency,
      logDir: options.workerLogDir,
      compileCacheDir: join(runDir, 'node-compile-cache'),
    });
    await worker.start();
    client = await HangarClient.connect({ redisUrl, keyPrefix });
    census = new CensusTaker({
      redisUrl,
      keyPrefix,
      hostId,
      stateDir,
      network,
      poolSize: defaultPoolSize(),
      label: [WORKLOAD_LABEL, String(phase)],
    });
    log(
      `worker ${hostId} consuming (state ${stateDir}, network ${network.prefix}, ${redact(redisUrl)}, keys ${keyPrefix})`,
    );
    const live = new Workload(client, tracker, {
      prng: context.prng.fork('workload'),
      sandboxes: options.sandboxes,
      inFlight: options.inFlight,
      keyedShare: phase === 2 ? 1 : options.keyedShare,
      repeatShare: options.repeatShare,
      tag: String(phase),
      signal,
      log,
    });
    workload = live;
    const issuing = live.run();
    await live.established(WARM_UP_MS);
    log(`workload up: ${live.model.up()} sandboxes; the kills begin`);
    const killOptions = {
      prng: context.prng.fork('kills'),
      restartDelayMs: options.restartDelayMs,
      signal,
      inFlight: () => live.inFlight,
      log,
    };
    if (privateRedis === undefined) {
      const killsBy = context.deadlineAt - options.deadlineMs * (1 - KILLS_SHARE);
      const workerOptions = {
        ...killOptions,
        uptimeMs: options.workerUptimeMs,
        killsBy,
        ...(context.onKillsLeft === undefined ? {} : { onKillsLeft: context.onKillsLeft }),
      };
      await killWorkerRepeatedly(worker, options.workerKills, workerOptions, kills);
    } else {
      const redisOptions = {
        uptimeMs: options.redisUptimeMs,
        workerKillChance: options.phase2WorkerKillChance,
      };
      await killRedisRepeatedly(
        privateRedis,
        worker,
        options.redisKills,
        { ...killOptions, ...redisOptions },
        kills,
      );
    }
    context.onKillsLeft?.(0);
    live.stop();
    log(`kills done; ${tracker.pending().length} jobs still to answer`);
    const parts = { client, tracker, workload: live, issuing, census, kills, workerPids: worker.pids };
    found = await finishPhase(
      { ...parts, keyPrefix, tag: String(phase), startedAt },
      { quiescentMs: options.quiescentMs, deadlineAt: context.deadlineAt, signal, log },
    );
  } catch (error) {
    errors.push(describe(error));
    log(`phase ${phase} broke: ${errors.at(-1)}`);
  } finally {
    context.onKillsLeft?.(0);
    // After a break, nothing may go on issuing or waiting once the worker and client are gone.
    workload?.stop();
    tracker.abandonPending('deadline');
    await worker?.stop().catch((error: unknown) => errors.push(`stopping the worker: ${describe(error)}`));
    await client?.close().catch(() => undefined);
    await census?.close().catch(() => undefined);
  }
  const redisUrl = privateRedis?.url ?? options.redisUrl;
  const afterTeardown = await teardownPhase({ network, runDir, stateDir, redisUrl, keyPrefix, privateRedis });
  errors.push(...afterTeardown.errors);
  log(`teardown: ${afterTeardown.total} objects left`);
  return {
    phase,
    hostId,
    keyPrefix,
    network: { prefix: network.prefix, vethRange: network.vethRange, hostRange: network.hostRange },
    redis:
      privateRedis === undefined
        ? options.redisUrl
        : `private redis-server :${privateRedis.port} (AOF, fsync always)`,
    durationMs: Date.now() - startedAt,
    kills: {
      worker: kills.filter((kill) => kill.kind === 'worker').length,
      redis: kills.filter((kill) => kill.kind === 'redis').length,
      failedWorkerStarts: worker?.failedStarts.length ?? 0,
      unexpectedWorkerExits: (worker?.unexpectedExits ?? []).map((exit) => ({
        ...exit,
        outputTail: exit.outputTail.slice(-12),
      })),
    },
    calls: workload?.stats,
    jobs: found?.jobs,
    finalDestroy: found?.finalDestroy,
    doubleEffects: found?.doubleEffects,
    leaks: {
      total: (found?.census.total ?? 0) + afterTeardown.total,
      beforeTeardown: found?.census,
      afterTeardown,
    },
    recovery: {
      afterWorkerKill: recoveryAfter(tracker.jobs(), kills, 'worker'),
      afterRedisKill: recoveryAfter(tracker.jobs(), kills, 'redis'),
    },
    eventsRead: found?.eventsRead ?? 0,
    queuesSettled: found?.settled,
    errors,
  };
}

/** Phase n's network: `<prefix><n>`, 10.<octet + n - 1>.0.0/17 for veths and .128.0/17 for hosts. */
export function phaseNetwork(options: CampaignOptions, phase: 1 | 2): NetworkConfig {
  const second = options.octet + phase - 1;
  return parseNetworkConfig({
    prefix: `${options.networkPrefix}${phase}`,
    vethRange: `10.${second}.0.0/17`,
    hostRange: `10.${second}.128.0/17`,
  });
}

// The worker's own default pool size: that many pool slots are its own at the census.
function defaultPoolSize(): number {
  try {
    return parseWorkerConfig({ hostId: 'x', redisUrl: 'redis://localhost' }).poolSize;
  } catch {
    return 4;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} (cause: ${describe(error.cause)})`;
}
