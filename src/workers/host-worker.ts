import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Job, Queue, Worker } from 'bullmq';
import { poolTargets, type WorkerConfig } from '../config/worker-config.ts';
import { selectRootDiskProvider } from '../devicemapper/select-provider.ts';
import { ConflictError } from '../errors/index.ts';
import { EventPublisher } from '../events/event-publisher.ts';
import { OutboxForwarder } from '../events/outbox-forwarder.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import {
  ensureHostNetwork,
  parseNetworkConfig,
  SlotClaims,
  SlotPool,
  sweepNetwork,
} from '../network/index.ts';
import { HangarClient } from '../producer/hangar-client.ts';
import { DEFAULT_WORKER_OPTIONS } from '../queues/job-options.ts';
import { JobData } from '../queues/job-schemas.ts';
import { BATCH_QUEUE, GROUP_QUEUE, hostPrefix, hostQueueName, KeySpace } from '../queues/names.ts';
import { connectRedis, type RedisClient, type RedisConnectOptions } from '../redis/connections.ts';
import { readRedisTls } from '../redis/redis-tls.ts';
import { type JobKey, type JobKeyInput, parseJobKey } from '../signing/job-key.ts';
import { readJobKeyFile } from '../signing/job-key-file.ts';
import { FleetStore } from '../state/fleet-store.ts';
import { HostLedger } from '../state/host-ledger.ts';
import type { HostLease } from '../state/host-registry.ts';
import type { TemplateCatalog } from '../templates/template-catalog.ts';
import { jobTracing } from '../tracing/job-tracing.ts';
import { startTracing, type Tracing } from '../tracing/start-tracing.ts';
import { startTransferServer, type TransferServer } from '../transfer/transfer-server.ts';
import { readHostCpu } from '../vmm/host-cpu.ts';
import { selectVmmBackend } from '../vmm/select-backend.ts';
import { HostAdmission } from './admission.ts';
import { startBatchWorker } from './batch-worker.ts';
import { type CrashPolicy, createCrashHandler } from './crash-handler.ts';
import { startGroupWorker } from './group-worker.ts';
import { heartbeatOf, markLostHosts } from './heartbeat.ts';
import { type HostContext, HostPaths } from './host-context.ts';
import { combineInstruments, type JobInstrument } from './job-instruments.ts';
import { createJobProcessor } from './job-processor.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { KnownWatermarks } from './known-watermarks.ts';
import { takeBackOrphans } from './orphans.ts';
import { PendingRecords } from './pending-records.ts';
import { type ReconcileReport, reconcileHost } from './reconcile.ts';
import { republishHost } from './republish.ts';
import { settleAbandonedJob } from './settle-job.ts';
import { collectSnapshotGarbage } from './snapshot-gc.ts';
import { SnapshotLocks } from './snapshot-locks.ts';
import { applyRetention } from './snapshot-retention.ts';
import { snapshotShelf } from './snapshot-shelf.ts';
import { SnapshotUsage } from './snapshot-usage.ts';
import { lockStateDir, type StateDirLock } from './state-dir-lock.ts';
import { VmPool } from './vm-pool.ts';
import { VmRegistry } from './vm-registry.ts';

/** Job states in which a job can still run. */
const LIVE_STATES = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

/** How many of the newest failed jobs each maintenance pass checks for a missing outcome. */
const ABANDONED_SCAN = 200;

/**
 * The worker of one host: holds the host (its state dir's lock and its lease in Redis),
 * takes back what a dead predecessor left active, reconciles the machine with its ledger,
 * keeps a pool of network slots warm, consumes the host's queue, beats its heartbeat, and
 * turns VMM crashes into events. `stop()` takes no new jobs, finishes the ones in flight,
 * gives the host back and leaves VMs running.
 */
export class HostWorker {
  readonly config: WorkerConfig;
  readonly ctx: HostContext;
  readonly #redis: RedisClient;
  readonly #mutex: KeyedMutex;
  readonly #queue: Queue;
  readonly #capacity: { vcpus: number; memoryMib: number; slots: number };
  readonly #lease: HostLease;
  readonly #tracing: Tracing | undefined;
  readonly #connect: RedisConnectOptions;
  #lock: StateDirLock | undefined;
  #worker: Worker | undefined;
  #batchWorker: Worker | undefined;
  #groupWorker: Worker | undefined;
  #client: HangarClient | undefined;
  #transfer: TransferServer | undefined;
  #connection: RedisClient | undefined;
  #timers: NodeJS.Timeout[] = [];
  #startedAt = new Date().toISOString();
  #reconcile: ReconcileReport | undefined;
  #running = false;
  #beatQueued = false;

  private constructor(
    config: WorkerConfig,
    ctx: HostContext,
    redis: RedisClient,
    mutex: KeyedMutex,
    queue: Queue,
    tracing: Tracing | undefined,
    connect: RedisConnectOptions,
  ) {
    this.config = config;
    this.#tracing = tracing;
    this.#connect = connect;
    this.ctx = ctx;
    this.#redis = redis;
    this.#mutex = mutex;
    this.#queue = queue;
    this.#capacity = { ...config.capacity, slots: ctx.network.maxSlots };
    this.#lease = {
      token: randomUUID(),
      holder: `${hostname()}:${config.stateDir}`,
      pid: process.pid,
      since: this.#startedAt,
    };
  }

  /**
   * Builds the host's context (backend, disks, network, ledger, records) without starting
   * anything. `instruments` observe jobs, steps and host notes (WorkerMetrics, say); when the
   * OTEL_* environment turns tracing on, the worker also traces its jobs and steps. The job
   * key is `options.jobKey`, else the file `config.jobKeyFile` names; without either the
   * worker runs unsigned jobs (and says so at start).
   */
  static async create(
    config: WorkerConfig,
    templates: TemplateCatalog,
    options: { logger?: Logger; instruments?: readonly JobInstrument[]; jobKey?: JobKeyInput } = {},
  ): Promise<HostWorker> {
    const log = (options.logger ?? silentLogger).child({ hostId: config.hostId });
    const paths = new HostPaths(config.stateDir);
    const jobKey: JobKey | undefined =
      options.jobKey !== undefined
        ? parseJobKey(options.jobKey, 'jobKey')
        : config.jobKeyFile === undefined
          ? undefined
          : await readJobKeyFile(config.jobKeyFile);
    const tls = await readRedisTls(config.redisTls);
    const connect: RedisConnectOptions = tls === undefined ? {} : { tls };
    const tracing = await startTracing('hangar-worker');
    const instrument = combineInstruments([
      ...(tracing === undefined ? [] : [jobTracing(tracing)]),
      ...(options.instruments ?? []),
    ]);
    const redis = connectRedis(config.redisUrl, 'worker', connect);
    redis.on('error', (error) => {
      instrument.note?.({ kind: 'redis-error' });
      log.warn({ err: error }, 'redis connection error');
    });
    const keys = new KeySpace(config.keyPrefix);
    const queue = new Queue(hostQueueName(config.hostId), {
      connection: redis,
      prefix: hostPrefix(config.keyPrefix, config.hostId),
    });
    queue.on('error', (error) => log.warn({ err: error }, 'queue error'));
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
    const jobById = async (jobId: string) => (await Job.fromId(queue, jobId)) ?? undefined;
    const parts = {
      hostId: config.hostId,
      log,
      backend,
      disks,
      claims,
      slots: new SlotPool({ claims, config: network, size: config.poolSize, logger: log }),
      network,
      ledger: await HostLedger.open(paths.ledger(), {
        onWrite: (ms) => instrument.note?.({ kind: 'ledger-write', ms }),
      }),
      store: new FleetStore(redis, keys, { logger: log }),
      events: new EventPublisher(redis, keys),
      outbox: new OutboxForwarder(redis, keys, config.hostId, log),
      pendingRecords: new PendingRecords(),
      snapshotLocks: new SnapshotLocks(),
      snapshotUsage: new SnapshotUsage(),
      snapshotRetention: config.snapshotRetention,
      cpu: config.cpu ?? (await readHostCpu()),
      instrument,
      watermarks: new KnownWatermarks(),
      templates,
      paths,
      vms,
      vmmEnv: config.vmmEnv,
      jobKey,
      retentionSeconds: config.retentionDays * 24 * 3600,
      admission: new HostAdmission({
        ...config.capacity,
        slots: network.maxSlots,
        diskReserveMib: config.diskReserveMib,
      }),
      jobById,
      jobLive: async (jobId) => LIVE_STATES.has(await queue.getJobState(jobId)),
      // Only a shortcut (the successor's recheck runs anyway), so it never fails the job that finished.
      capacityFreed: () => undefined,
      wake: async (jobId) => {
        try {
          const job = await jobById(jobId);
          if (job !== undefined && (await job.isDelayed())) await job.promote();
        } catch (error) {
          log.debug({ err: error, jobId }, 'could not wake a waiting job; its recheck will run it');
        }
      },
    } satisfies Omit<HostContext, 'pool'>;
    // The pool works on the host's context, so it joins it last.
    const ctx = parts as HostContext;
    ctx.pool = new VmPool(ctx, poolTargets(config), { concurrency: config.poolConcurrency });
    const onCrash = createCrashHandler(ctx, mutex, config.crashPolicy as CrashPolicy);
    const worker = new HostWorker(config, ctx, redis, mutex, queue, tracing, connect);
    ctx.capacityFreed = () => worker.#beatSoon();
    return worker;
  }

  /** What the last startup reconcile did. */
  get reconcileReport(): ReconcileReport | undefined {
    return this.#reconcile;
  }

  /**
   * Holds the host (state dir lock, then lease: a second worker for the same state dir or
   * host id fails here with E_CONFLICT naming the holder), takes back orphaned jobs,
   * reconciles, warms the pool, starts consuming and beating.
   */
  async start(): Promise<void> {
    const { ctx, config } = this;
    // Snapshot memory and state files hold guest secrets: nothing the worker or its VMMs
    // create is readable by others.
    process.umask(0o077);
    this.#lock = await lockStateDir(config.stateDir, { hostId: config.hostId });
    try {
      const holder = await ctx.store.hosts.acquireLease(config.hostId, this.#lease, this.#leaseTtlMs());
      if (holder !== undefined) {
        throw new ConflictError(
          `host ${config.hostId} is held by another worker: pid ${holder.pid} at ${holder.holder} since ${holder.since}`,
          { hostId: config.hostId, holder },
        );
      }
      await this.#startHeld();
    } catch (error) {
      await this.#lock.release();
      this.#lock = undefined;
      throw error;
    }
  }

  async #startHeld(): Promise<void> {
    const { ctx, config } = this;
    if (ctx.jobKey === undefined) {
      ctx.log.warn(
        'no job key (HANGAR_JOB_KEY, --job-key-file or jobKeyFile): this worker runs unsigned jobs, so anyone who can write to its Redis can run jobs on this host as root',
      );
    } else {
      ctx.log.info({ keyId: ctx.jobKey.keyId }, 'jobs must be signed with the job key');
    }
    await ensureHostNetwork(ctx.network);
    await takeBackOrphans(this.#queue, ctx.log);
    const batchQueue = new Queue(BATCH_QUEUE, {
      connection: this.#redis,
      prefix: hostPrefix(config.keyPrefix, config.hostId),
    });
    await takeBackOrphans(batchQueue, ctx.log).finally(() => batchQueue.close());
    const groupQueue = new Queue(GROUP_QUEUE, {
      connection: this.#redis,
      prefix: hostPrefix(config.keyPrefix, config.hostId),
    });
    await takeBackOrphans(groupQueue, ctx.log).finally(() => groupQueue.close());
    ctx.outbox.start(config.heartbeatMs);
    this.#reconcile = await reconcileHost(ctx, ctx.log);
    const pool = await ctx.pool.reconcile();
    this.#reconcile = { ...this.#reconcile, pool };
    await this.#settleAbandoned();
    await this.#sweepSlots();
    await ctx.slots.start();
    await republishHost(ctx);
    ctx.log.info({ reconcile: this.#reconcile, backend: ctx.backend.info.description }, 'host reconciled');
    await this.#startTransfer();
    this.#running = true;
    await this.#beat();
    this.#timers.push(
      setInterval(() => void this.#beat(), config.heartbeatMs),
      setInterval(
        () => void this.#background('lost-host check', () => markLostHosts(ctx, config.lostAfterMs)),
        config.heartbeatMs * 2,
      ),
      setInterval(() => void this.#maintain(), config.maintenanceMs),
    );
    // Records written while Redis was away (or lost with it) come back from the ledger.
    this.#redis.on('ready', () => void this.#maintain());
    const connection = connectRedis(config.redisUrl, 'worker', this.#connect);
    connection.on('error', (error) => {
      ctx.instrument.note?.({ kind: 'redis-error' });
      ctx.log.warn({ err: error }, 'redis connection error');
    });
    this.#connection = connection;
    this.#worker = new Worker(hostQueueName(config.hostId), createJobProcessor(ctx, this.#mutex), {
      connection,
      prefix: hostPrefix(config.keyPrefix, config.hostId),
      concurrency: config.concurrency,
      ...DEFAULT_WORKER_OPTIONS,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      // Each job's trace goes on from the producer's add (its context rides in the job's options).
      ...(this.#tracing === undefined ? {} : { telemetry: this.#tracing.telemetry }),
    });
    this.#worker.on('error', (error) => ctx.log.error({ err: error }, 'worker error'));
    // A job BullMQ fails before our processor runs it (stalled past its limit, found at fetch)
    // has no outcome: settle it now rather than at the next maintenance pass.
    this.#worker.on('failed', (job) => {
      if (job?.finishedOn === undefined) return;
      void this.#background('abandoned-job settle', () => this.#settleIfAbandoned(job.id!));
    });
    await this.#worker.waitUntilReady();
    this.#batchWorker = startBatchWorker({
      connection,
      keyPrefix: config.keyPrefix,
      store: ctx.store,
      log: ctx.log,
      hostId: ctx.hostId,
      jobKey: ctx.jobKey,
    });
    // Group coordinators enqueue their members' jobs as any producer does (signed, over TLS).
    this.#client = await HangarClient.connect({
      redisUrl: config.redisUrl,
      keyPrefix: config.keyPrefix,
      logger: ctx.log,
      ...(ctx.jobKey === undefined ? {} : { jobKey: ctx.jobKey }),
      ...(this.#connect.tls === undefined ? {} : { redisTls: this.#connect.tls }),
    });
    this.#groupWorker = startGroupWorker({
      connection,
      keyPrefix: config.keyPrefix,
      hostId: ctx.hostId,
      store: ctx.store,
      client: this.#client,
      log: ctx.log,
      jobKey: ctx.jobKey,
    });
    ctx.pool.start();
    ctx.log.info({ queue: hostQueueName(config.hostId), concurrency: config.concurrency }, 'worker started');
  }

  /** Stops taking jobs, lets the ones in flight finish, gives the host back, leaves VMs running. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await Promise.all([this.#worker?.close(), this.#batchWorker?.close(), this.#groupWorker?.close()]);
    await this.#client?.close();
    await this.#transfer?.close().catch(() => undefined);
    this.#transfer = undefined;
    this.ctx.transferUrl = undefined;
    // Pool VMs are not sandboxes: a stopped worker leaves none behind.
    await this.ctx.pool.stop().catch((error: unknown) => {
      this.ctx.log.warn({ err: error }, 'could not tear down every pool VM; the next start sweeps them');
    });
    await this.ctx.outbox.stop();
    await this.ctx.slots.stop();
    await this.ctx.store.hosts.releaseLease(this.config.hostId, this.#lease.token).catch((error: unknown) => {
      this.ctx.log.warn({ err: error }, 'could not release the host lease; it expires by itself');
    });
    await this.#queue.close().catch(() => undefined);
    // quit() lets commands already sent (a last heartbeat, an event) finish before closing.
    await Promise.allSettled([this.#connection?.quit(), this.#redis.quit()]);
    await this.ctx.ledger.close();
    await this.#tracing?.flush().catch((error: unknown) => {
      this.ctx.log.warn({ err: error }, 'could not export the last spans');
    });
    await this.#lock?.release();
    this.#lock = undefined;
    this.ctx.log.info('worker stopped; VMs left running');
  }

  /** This host's snapshot transfer server, when configured: its URL and the bytes it moved. */
  get transfer(): TransferServer | undefined {
    return this.#transfer;
  }

  // Peers learn the URL from the heartbeat, so it listens before the first beat.
  async #startTransfer(): Promise<void> {
    const { ctx, config } = this;
    if (config.transfer === undefined) return;
    if (ctx.jobKey === undefined) {
      ctx.log.warn('a transfer port is set but there is no job key: this host serves no snapshots');
      return;
    }
    const { port, listen, advertiseUrl } = config.transfer;
    this.#transfer = await startTransferServer({
      key: ctx.jobKey,
      shelf: snapshotShelf(ctx),
      host: listen,
      port,
      logger: ctx.log,
      advertiseUrl,
    });
    // Port 0 (a free one) is only known now.
    ctx.transferUrl = advertiseUrl ?? transferUrlFor(listen, this.#transfer.port);
  }

  // Coalesced: releases that finish together send one early heartbeat.
  #beatSoon(): void {
    if (this.#beatQueued) return;
    this.#beatQueued = true;
    setImmediate(() => {
      this.#beatQueued = false;
      void this.#beat();
    });
  }

  #leaseTtlMs(): number {
    return this.config.heartbeatMs * 3;
  }

  async #beat(): Promise<void> {
    if (!this.#running) return;
    try {
      const answer = await this.ctx.store.hosts.beat(
        await heartbeatOf(this.ctx, this.#capacity, this.#startedAt),
        this.config.heartbeatMs * 3,
        this.#lease,
        this.#leaseTtlMs(),
      );
      if (answer.heldBy !== undefined) {
        this.ctx.log.error({ holder: answer.heldBy }, 'another worker took this host; stopping');
        this.#running = false;
        await Promise.all([this.#worker?.close(), this.#batchWorker?.close()]);
        return;
      }
      if (answer.wasLost) {
        const republished = await republishHost(this.ctx);
        await this.ctx.events.publish({
          type: 'host.recovered',
          at: new Date().toISOString(),
          hostId: this.ctx.hostId,
          sandboxes: this.ctx.ledger.entries().map((entry) => entry.sandboxId),
        });
        this.ctx.log.info({ republished }, 'host was marked lost; its records are back');
      }
    } catch (error) {
      this.ctx.log.warn({ err: error }, 'heartbeat failed');
    }
  }

  // The slow pass: the ledger republished (records and reservations), jobs BullMQ failed
  // behind the processor's back (stalled out) settled, snapshot garbage collected and each
  // series' retention applied.
  async #maintain(): Promise<void> {
    if (!this.#running) return;
    await this.#background('republish', () => republishHost(this.ctx));
    await this.#background('abandoned-job scan', () => this.#settleAbandoned());
    await this.#background('snapshot garbage', () => collectSnapshotGarbage(this.ctx));
    await this.#background('snapshot retention', () => applyRetention(this.ctx));
  }

  async #settleAbandoned(): Promise<void> {
    const ids = await this.#queue.getRanges(['failed'], 0, ABANDONED_SCAN - 1, false);
    const outcomes = await this.ctx.store.getOutcomes(ids.map((jobId) => ({ home: this.ctx.hostId, jobId })));
    for (const [index, jobId] of ids.entries()) {
      if (outcomes[index] === undefined) await this.#settleIfAbandoned(jobId);
    }
  }

  async #settleIfAbandoned(jobId: string): Promise<void> {
    if ((await this.ctx.store.getOutcome(this.ctx.hostId, jobId)) !== undefined) return;
    const job = await this.ctx.jobById(jobId);
    const data = JobData.safeParse(job?.data);
    if (!data.success) return;
    await settleAbandonedJob(
      this.ctx,
      this.#mutex,
      { jobId, sandboxId: data.data.payload.sandboxId, seq: data.data.seq },
      this.ctx.log,
    );
  }

  async #background(what: string, task: () => Promise<unknown>): Promise<void> {
    try {
      await task();
    } catch (error) {
      this.ctx.log.warn({ err: error, task: what }, 'background task failed');
    }
  }

  // Claims of sandboxes the ledger does not know (a crash between claim and ledger write)
  // are released; then every namespace, link and route without a claim is removed.
  async #sweepSlots(): Promise<void> {
    const { ctx } = this;
    for (const [slot, claim] of await ctx.claims.list()) {
      if (claim.owner.startsWith('pool:')) continue;
      // Owners are resource names: a sandbox's own id, or a pool VM's (its own or a sandbox's now).
      if (ctx.ledger.byResource(claim.owner) !== undefined || ctx.ledger.getPool(claim.owner) !== undefined)
        continue;
      await ctx.claims.release(slot, claim.owner);
    }
    const owned = new Set((await ctx.claims.list()).keys());
    await sweepNetwork(ctx.network, owned);
  }
}

// A wildcard listen address is no address to reach: peers use the host's name.
function transferUrlFor(listen: string, port: number): string {
  const host = listen === '0.0.0.0' || listen === '::' ? hostname() : listen;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
