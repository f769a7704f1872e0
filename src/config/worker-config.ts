import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { RedisTlsFiles } from '../redis/redis-tls.ts';
import { RetentionPolicy } from '../state/retention-policy.ts';
import { Identifier } from '../validation/identifiers.ts';

/** Everything a host worker is configured with; flags and environment both land here, validated. */
export const WorkerConfig = z
  .object({
    hostId: Identifier,
    redisUrl: z
      .string()
      .regex(
        /^rediss?(\+cluster)?:\/\//,
        'must be a redis:// or rediss:// URL (several host:port for a cluster)',
      ),
    /** CA, client certificate and key files for a rediss:// server (paths; read at start). */
    redisTls: RedisTlsFiles.optional(),
    keyPrefix: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,40}$/)
      .default('hangar'),
    /**
     * A file holding the fleet's job key (hex or base64, at least 32 bytes, mode 0600 or
     * stricter). With a key the worker runs only jobs signed with it; HANGAR_JOB_KEY and
     * --job-key-file win over this.
     */
    jobKeyFile: z.string().regex(/^\//, 'must be absolute').optional(),
    stateDir: z.string().regex(/^\//, 'must be absolute').default('/var/lib/hangar'),
    concurrency: z.number().int().min(1).max(256).default(8),
    /**
     * Which VMM runs the sandboxes (see selectVmmBackend). 'in-process-stand-in' is a stand-in
     * with no VM at all and no VMM process: VM state kept in the worker's memory and lost when
     * the worker restarts, for control-plane benches and tests; 'auto' never picks it.
     */
    vmm: z
      .enum(['auto', 'ch-or-simulator', 'cloud-hypervisor', 'simulator', 'qemu', 'in-process-stand-in'])
      .default('auto'),
    disk: z.enum(['auto', 'file', 'device-mapper']).default('auto'),
    /** Network slots kept built ahead of demand. */
    poolSize: z.number().int().min(0).max(256).default(4),
    /**
     * VMs kept booted and paused ahead of demand, per template: a count (of 1 vCPU / 512 MiB
     * VMs) or { count, vcpus, memoryMib }. A create of that template and shape takes one.
     */
    pool: z
      .record(
        Identifier,
        z.union([
          z.number().int().min(0).max(64),
          z
            .object({
              count: z.number().int().min(0).max(64),
              vcpus: z.number().int().min(1).max(32).default(1),
              memoryMib: z.number().int().min(128).max(65_536).default(512),
            })
            .strict(),
        ]),
      )
      .default({}),
    /** Pool VMs built at once (each boot competes with the jobs in flight for the host's CPUs). */
    poolConcurrency: z.number().int().min(1).max(16).default(1),
    capacity: z
      .object({ vcpus: z.number().int().min(1), memoryMib: z.number().int().min(128) })
      .default({ vcpus: 64, memoryMib: 131_072 }),
    heartbeatMs: z.number().int().min(100).max(60_000).default(2_000),
    /** A host silent this long (after its heartbeat expired) is marked lost; it recovers when it beats again. */
    lostAfterMs: z.number().int().min(1_000).default(15_000),
    /** How often the worker republishes its ledger and settles jobs BullMQ failed behind its back. */
    maintenanceMs: z.number().int().min(500).default(30_000),
    /** How long a destroyed or failed sandbox's record, its sequence keys and its outcomes are kept. */
    retentionDays: z.number().min(0.001).max(365).default(7),
    /** Disk space (MiB) in the state dir that creates, restores and snapshots never eat into. */
    diskReserveMib: z.number().int().min(0).default(1_024),
    /** BullMQ job lock; a worker that dies mid-job frees its jobs for retry after this long. */
    lockDurationMs: z.number().int().min(1_000).default(60_000),
    stalledIntervalMs: z.number().int().min(500).default(15_000),
    crashPolicy: z.enum(['keep', 'reclaim']).default('keep'),
    templatesFile: z.string().optional(),
    network: z.record(z.string(), z.unknown()).default({}),
    /**
     * The host CPU recorded in snapshots and checked before restores, in place of what
     * /proc/cpuinfo says (tests stand in for a host of another CPU with it).
     */
    cpu: z
      .object({ model: z.string(), flags: z.array(z.string()) })
      .strict()
      .optional(),
    /**
     * The snapshot transfer server: other hosts fetch this host's snapshots from it (a
     * restore elsewhere) and `hangar snapshot export/import` read and write through it.
     * Needs the job key (every request is signed with it). Absent: no server.
     */
    transfer: z
      .object({
        port: z.number().int().min(0).max(65_535),
        listen: z.string().min(1).default('0.0.0.0'),
        /** The base URL other hosts reach it at; default http://<this host's name>:<port>. */
        advertiseUrl: z.url().optional(),
      })
      .strict()
      .optional(),
    /** Retention per snapshot series on this host (a series' policy set by its batch takes precedence). */
    snapshotRetention: z.record(Identifier, RetentionPolicy).default({}),
    /** Extra environment for every VMM process (the simulator's latency/fault knobs). */
    vmmEnv: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export type WorkerConfig = z.infer<typeof WorkerConfig>;
export type WorkerConfigInput = z.input<typeof WorkerConfig>;

/** The pool targets a config asks for, one per template. */
export function poolTargets(
  config: WorkerConfig,
): { template: string; count: number; vcpus: number; memoryMib: number }[] {
  return Object.entries(config.pool).map(([template, value]) =>
    typeof value === 'number'
      ? { template, count: value, vcpus: 1, memoryMib: 512 }
      : { template, count: value.count, vcpus: value.vcpus, memoryMib: value.memoryMib },
  );
}

/** Parses a worker config; the error names each bad field. */
export function parseWorkerConfig(input: unknown): WorkerConfig {
  const parsed = WorkerConfig.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod('worker config', parsed.error);
  return parsed.data;
}
