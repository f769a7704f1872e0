import type { NetworkConfig } from '../../src/network/index.ts';
import type { HangarClient } from '../../src/producer/index.ts';
import { KeySpace } from '../../src/queues/names.ts';
import { censusStateDir, countFileLeaks, type FileLeaks } from './census-files.ts';
import { censusHost, countHostLeaks, type HostLeaks } from './census-host.ts';
import { censusRedis, countRedisLeaks, type RedisLeaks, type SequenceHole } from './census-redis.ts';
import { QueueProbe } from './queue-probe.ts';
import { sleep } from './sleep.ts';

// A second look this long after the first: only what both saw counts, so a warm-pool slot being
// built or a file being written at that instant is not taken for a leak.
const SECOND_LOOK_MS = 2_000;

/** The leak census of a phase, taken once every sandbox is destroyed and while the worker runs. */
export interface PhaseCensus {
  total: number;
  host: HostLeaks;
  files: FileLeaks;
  redis: RedisLeaks;
  /** Not counted as leaks: job numbers taken but never finished (later jobs wait on them). */
  sequenceHoles: SequenceHole[];
  /** Not counted: state-dir entries the census has no rule for. */
  unrecognizedFiles: string[];
}

/** Where a phase's objects live. */
export interface CensusScope {
  redisUrl: string;
  keyPrefix: string;
  hostId: string;
  stateDir: string;
  network: NetworkConfig;
  /** The worker's warm pool size: that many `pool:` claims (and their slots) are its own. */
  poolSize: number;
  /** The label every workload sandbox carries. */
  label: [string, string];
}

/**
 * Counts a phase's leaks: kernel objects and processes (allowing the live worker's warm pool
 * slots and host table), files in the state dir, and Redis state that should be gone.
 */
export class CensusTaker {
  readonly probe: QueueProbe;
  readonly #scope: CensusScope;
  readonly #keys: KeySpace;

  constructor(scope: CensusScope) {
    this.#scope = scope;
    this.#keys = new KeySpace(scope.keyPrefix);
    this.probe = new QueueProbe(scope.redisUrl, scope.keyPrefix, scope.hostId);
  }

  /** The newest event's stream position (undefined on an empty stream). */
  async newestEvent(): Promise<string | undefined> {
    const stream = this.#keys.fleet.eventStream();
    const newest = (await this.probe.redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
    return newest[0]?.[0];
  }

  /**
   * Takes the census twice, two seconds apart, and counts what both found. The sandboxes looked
   * at are those the workload made plus those the client lists; `workerPids` may name the state dir.
   */
  async take(
    client: HangarClient,
    sandboxIds: readonly string[],
    workerPids: ReadonlySet<number>,
  ): Promise<PhaseCensus> {
    const listed = (await client.list({})).map((record) => record.sandboxId);
    const ids = [...new Set([...sandboxIds, ...listed])].sort();
    const first = await this.#look(client, ids, workerPids);
    if (first.total === 0) return first;
    await sleep(SECOND_LOOK_MS);
    const second = await this.#look(client, ids, workerPids);
    const host = seenTwice(first.host, second.host);
    const files = seenTwice(first.files, second.files);
    const redis = seenTwice(first.redis, second.redis);
    const total = countHostLeaks(host) + countFileLeaks(files) + countRedisLeaks(redis);
    return { ...second, host, files, redis, total };
  }

  async close(): Promise<void> {
    await this.probe.close();
  }

  async #look(client: HangarClient, ids: string[], workerPids: ReadonlySet<number>): Promise<PhaseCensus> {
    const scope = this.#scope;
    const redis = this.probe.redis;
    const hasSnapshot = async (id: string) => (await redis.exists(this.#keys.fleet.snapshot(id))) === 1;
    const state = await censusStateDir(scope.stateDir, { hasSnapshot, poolSize: scope.poolSize });
    const host = await censusHost(scope.network, scope.stateDir, {
      slots: state.poolSlots,
      hostTable: true,
      pids: workerPids,
    });
    const { leaks: redisLeaks, sequenceHoles } = await censusRedis(this.probe, client, {
      keyPrefix: scope.keyPrefix,
      hostId: scope.hostId,
      sandboxIds: ids,
      label: scope.label,
    });
    return {
      total: countHostLeaks(host) + countFileLeaks(state.leaks) + countRedisLeaks(redisLeaks),
      host,
      files: state.leaks,
      redis: redisLeaks,
      sequenceHoles,
      unrecognizedFiles: state.unrecognized,
    };
  }
}

// The entries of each kind that both looks found.
function seenTwice<T extends { [K in keyof T]: string[] }>(first: T, second: T): T {
  const result = { ...second };
  for (const kind of Object.keys(second) as (keyof T)[]) {
    result[kind] = second[kind].filter((entry) => first[kind].includes(entry)) as T[keyof T];
  }
  return result;
}
