import { join } from 'node:path';
import type { Job } from 'bullmq';
import type { RootDiskProvider } from '../devicemapper/root-disk-provider.ts';
import type { EventPublisher } from '../events/event-publisher.ts';
import type { OutboxForwarder } from '../events/outbox-forwarder.ts';
import type { Logger } from '../logging/logger.ts';
import type { NetworkConfig, SlotClaims, SlotPool } from '../network/index.ts';
import type { JobKey } from '../signing/job-key.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { HostLedger } from '../state/host-ledger.ts';
import type { RetentionPolicy } from '../state/retention-policy.ts';
import type { TemplateCatalog } from '../templates/template-catalog.ts';
import type { HostCpu } from '../vmm/host-cpu.ts';
import type { VmmBackend } from '../vmm/vm-driver.ts';
import type { HostAdmission } from './admission.ts';
import type { JobInstrument } from './job-instruments.ts';
import type { KnownWatermarks } from './known-watermarks.ts';
import type { PendingRecords } from './pending-records.ts';
import type { SnapshotLocks } from './snapshot-locks.ts';
import type { SnapshotUsage } from './snapshot-usage.ts';
import type { VmPool } from './vm-pool.ts';
import type { VmRegistry } from './vm-registry.ts';

/** Where a host keeps sandbox runtime files and snapshots. */
export class HostPaths {
  readonly stateDir: string;

  constructor(stateDir: string) {
    this.stateDir = stateDir;
  }

  /** Socket, pidfile and logs of a sandbox's VMM. */
  runtimeDir(sandboxId: string): string {
    return join(this.stateDir, 'run', sandboxId);
  }

  /** A snapshot: `vm/` (memory and device state) and `disk.cow` (the disk at that moment). */
  snapshotDir(snapshotId: string): string {
    return join(this.stateDir, 'snapshots', snapshotId);
  }

  ledger(): string {
    return join(this.stateDir, 'ledger.json');
  }

  slotClaims(): string {
    return join(this.stateDir, 'slots');
  }

  disks(): string {
    return join(this.stateDir, 'cow');
  }
}

/** Everything an operation needs on this host; operations never build it themselves. */
export interface HostContext {
  hostId: string;
  log: Logger;
  backend: VmmBackend;
  disks: RootDiskProvider;
  claims: SlotClaims;
  slots: SlotPool;
  network: NetworkConfig;
  ledger: HostLedger;
  store: FleetStore;
  events: EventPublisher;
  /** Forwards the events this host's scripts wrote to its outbox into the fleet's stream (kick after a write). */
  outbox: OutboxForwarder;
  templates: TemplateCatalog;
  paths: HostPaths;
  vms: VmRegistry;
  /** Extra environment for VMM processes (the simulator's latency and fault knobs). */
  vmmEnv: Record<string, string>;
  /** The fleet's job key: when set, a job runs only with a valid signature (see job-signature.ts). */
  jobKey: JobKey | undefined;
  /** Where this host's transfer server serves its snapshots, once it listens (heartbeats say it). */
  transferUrl?: string | undefined;
  /** How long a destroyed or failed sandbox's record is kept. */
  retentionSeconds: number;
  /** The job order this worker knows without asking Redis. */
  watermarks: KnownWatermarks;
  /** Restores read a snapshot's files under its read lock; a delete takes the write lock. */
  snapshotLocks: SnapshotLocks;
  /** Retention per snapshot series from the worker's config (a series' own policy in Redis comes first). */
  snapshotRetention: Record<string, RetentionPolicy>;
  /** The bytes this host's snapshots use (the heartbeat reports them). */
  snapshotUsage: SnapshotUsage;
  /** This host's CPU model and flags (recorded in snapshots, checked before restores). */
  cpu: HostCpu;
  /** What observes jobs and steps (metrics, traces); NO_INSTRUMENT when nothing does. */
  instrument: JobInstrument;
  /** VMs booted ahead of demand (empty when no template is pooled). */
  pool: VmPool;
  /** Records waiting for their job's FINISH to be written. */
  pendingRecords: PendingRecords;
  /** The worker's own capacity and disk check. */
  admission: HostAdmission;
  /** A job of this host's queue, if BullMQ still has it. */
  jobById(jobId: string): Promise<Job | undefined>;
  /** Whether a job of this host's queue can still run (waiting, delayed, active). */
  jobLive(jobId: string): Promise<boolean>;
  /** Runs a job held back for its predecessor now (it was delayed for a recheck). */
  wake(jobId: string): Promise<void>;
  /** A sandbox gave its capacity back: the fleet's placement figures should hear it soon. */
  capacityFreed(): void;
}
