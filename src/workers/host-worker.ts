import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WorkerConfig } from '../config/worker-config.ts';
import { selectRootDiskProvider } from '../devicemapper/select-provider.ts';
import { EventPublisher } from '../events/event-publisher.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import {
  ensureHostNetwork,
  parseNetworkConfig,
  SlotClaims,
  SlotPool,
  sweepNetwork,
} from '../network/index.ts';
import { DEFAULT_WORKER_OPTIONS } from '../queues/job-options.ts';
import { bullPrefix, hostQueueName, KeySpace } from '../queues/names.ts';
import { connectRedis } from '../redis/connections.ts';
import { FleetStore } from '../state/fleet-store.ts';
import { HostLedger } from '../state/host-ledger.ts';
import type { TemplateCatalog } from '../templates/template-catalog.ts';
import { selectVmmBackend } from '../vmm/select-backend.ts';
import { startBatchWorker } from './batch-worker.ts';
import { type CrashPolicy, createCrashHandler } from './crash-handler.ts';
import { heartbeatOf, markLostHosts } from './heartbeat.ts';
import { type HostContext, HostPaths } from './host-context.ts';
import { createJobProcessor } from './job-processor.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { type ReconcileReport, reconcileHost } from './reconcile.ts';
import { VmRegistry } from './vm-registry.ts';

/**
 * The worker of one host: reconciles the machine with its ledger, keeps a pool of network
 * slots warm, consumes the host's queue, beats its heartbeat, and turns VMM crashes into
 * events. `stop()` takes no new jobs, finishes the ones in flight and leaves VMs running.
 */
export class HostWorker {
  readonly config: WorkerConfig;
  readonly ctx: HostContext;
  readonly #redis: Redis;
  readonly #mutex: KeyedMutex;
  readonly #capacity: { vcpus: number; memoryMib: number; slots: number };
  #worker: Worker | undefined;
  #batchWorker: Worker | undefined;
  #connection: Redis | undefined;
  #timers: NodeJS.Timeout[] = [];
  #startedAt = new Date().toISOString();
  #reconcile: ReconcileReport | undefined;

  private constructor(config: WorkerConfig, ctx: HostContext, redis: Redis, mutex: KeyedMutex) {
    this.config = config;
    this.ctx = ctx;
    this.#redis = redis;
    this.#mutex = mutex;
    this.#capacity = { ...config.capacity, slots: ctx.network.maxSlots };
  }

  /** Builds the host's context (backend, disks, network, ledger, records) without starting anything. */
  static async create(
    config: WorkerConfig,
    templates: TemplateCatalog,
    options: { logger?: Logger } = {},
  ): Promise<HostWorker> {
    const log = (options.logger ?? silentLogger).child({ hostId: config.hostId });
    const paths = new HostPaths(config.stateDir);
    const redis = connectRedis(config.redisUrl, 'worker');
    redis.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
    const keys = new KeySpace(config.keyPrefix);
    const network = parseNetworkConfig(config.network);
    const claims = new SlotClaims({ dir: paths.slotClaims(), maxSlots: network.maxSlots, logger: log });
    const backend = await selectVmmBackend(config.vmm, { logger: log });
    const { provider: disks } = await selectRootDiskProvider({
      kind: config.disk,
      dataDir: paths.disks(),
      logger: log,
    });
    const mutex = new KeyedMutex();
    const vms = new VmRegistry(backend, paths, (crash) => onCrash(crash));
    const ctx: HostContext = {
      hostId: config.hostId,
      log,
      backend,
      disks,
      claims,
      slots: new SlotPool({ claims, config: network, size: config.poolSize, logger: log }),
      network,
      ledger: await HostLedger.open(paths.ledger()),
      store: new FleetStore(redis, keys),
      events: new EventPublisher(redis, keys),
      templates,
      paths,
      vms,
      vmmEnv: config.vmmEnv,
    };
    const onCrash = createCrashHandler(ctx, mutex, config.crashPolicy as CrashPolicy);
    return new HostWorker(config, ctx, redis, mutex);
  }

  /** What the last startup reconcile did. */
  get reconcileReport(): ReconcileReport | undefined {
    return this.#reconcile;
  }

  /** Reconciles, warms the pool, starts consuming and beating. */
  async start(): Promise<void> {
    const { ctx, config } = this;
    await ensureHostNetwork(ctx.network);
    this.#reconcile = await reconcileHost(ctx);
    await this.#sweepSlots();
    await ctx.slots.start();
    ctx.log.info({ reconcile: this.#reconcile, backend: ctx.backend.info.description }, 'host reconciled');
    await this.#beat();
    this.#timers.push(
      setInterval(() => void this.#beat(), config.heartbeatMs),
      setInterval(() => void markLostHosts(ctx).catch(() => undefined), config.heartbeatMs * 2),
    );
    const connection = connectRedis(config.redisUrl, 'worker');
    this.#connection = connection;
    this.#worker = new Worker(hostQueueName(config.hostId), createJobProcessor(ctx, this.#mutex), {
      connection,
      prefix: bullPrefix(config.keyPrefix),
      concurrency: config.concurrency,
      ...DEFAULT_WORKER_OPTIONS,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
    });
    this.#worker.on('error', (error) => ctx.log.error({ err: error }, 'worker error'));
    await this.#worker.waitUntilReady();
    this.#batchWorker = startBatchWorker({
      connection,
      keyPrefix: config.keyPrefix,
      store: ctx.store,
      events: ctx.events,
      log: ctx.log,
      hostId: ctx.hostId,
    });
    ctx.log.info({ queue: hostQueueName(config.hostId), concurrency: config.concurrency }, 'worker started');
  }

  /** Stops taking jobs, lets the ones in flight finish, leaves VMs running. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await Promise.all([this.#worker?.close(), this.#batchWorker?.close()]);
    await this.ctx.slots.stop();
    // quit() lets commands already sent (a last heartbeat, an event) finish before closing.
    await Promise.allSettled([this.#connection?.quit(), this.#redis.quit()]);
    this.ctx.log.info('worker stopped; VMs left running');
  }

  async #beat(): Promise<void> {
    try {
      await this.ctx.store.beat(
        heartbeatOf(this.ctx, this.#capacity, this.#startedAt),
        this.config.heartbeatMs * 3,
      );
    } catch (error) {
      this.ctx.log.warn({ err: error }, 'heartbeat failed');
    }
  }

  // Claims of sandboxes the ledger does not know (a crash between claim and ledger write)
  // are released; then every namespace, link and route without a claim is removed.
  async #sweepSlots(): Promise<void> {
    const { ctx } = this;
    for (const [slot, claim] of await ctx.claims.list()) {
      if (claim.owner.startsWith('pool:') || ctx.ledger.get(claim.owner)?.slot === slot) continue;
      if (ctx.ledger.get(claim.owner) !== undefined) continue;
      await ctx.claims.release(slot, claim.owner);
    }
    const owned = new Set((await ctx.claims.list()).keys());
    await sweepNetwork(ctx.network, owned);
  }
}
