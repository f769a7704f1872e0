import { randomBytes } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import type { SlotLayout } from '../network/index.ts';
import type { PoolEntry } from '../state/host-ledger.ts';
import { fileBytes } from './admission.ts';
import { waitGuestReady } from './guest-readiness.ts';
import type { HostContext } from './host-context.ts';
import { removeRuntimeFiles } from './operations/sandbox-resources.ts';
import { vmSpecFor } from './vm-spec-for.ts';

const MIB = 1024 * 1024;

/** How long after a failed build the pool tries again. */
const RETRY_MS = 5_000;

/** How many VMs of one template and shape a host keeps ready. */
export interface PoolTarget {
  template: string;
  count: number;
  vcpus: number;
  memoryMib: number;
}

/** A pool's figures per template, as the heartbeat and `hangar ls --pool` show them. */
export interface PoolStats {
  byTemplate: Record<
    string,
    { ready: number; warming: number; target: number; vcpus: number; memoryMib: number }
  >;
  /** What pool VMs hold of the host (reported apart from sandboxes). */
  used: { vcpus: number; memoryMib: number; slots: number };
}

/** The key a pool VM's shape is matched by: a create takes one only of its template and shape. */
export function shapeKey(shape: { template: string; vcpus: number; memoryMib: number }): string {
  return `${shape.template}/${shape.vcpus}/${shape.memoryMib}`;
}

/**
 * The host's pool of VMs booted ahead of demand (kata's VMCache, a warm pool): per
 * configured template, VMs booted in a slot of their own with their own copy-on-write disk,
 * their guest answering, then paused. A create of that template and shape takes one (it
 * becomes the sandbox, keeping the VM's resources) instead of booting cold. Refilling runs
 * in the background, one VM at a time by default, so it never starves the jobs in flight.
 * Pool VMs live in the ledger's pool section: a worker restart keeps the ready ones that
 * still run and tears down the rest; a crashed one is replaced; stopping the worker tears
 * the pool down.
 */
export class VmPool {
  readonly #ctx: HostContext;
  readonly #targets: readonly PoolTarget[];
  readonly #concurrency: number;
  readonly #log: Logger;
  /** Ready VMs a create has taken but not yet committed to the ledger. */
  readonly #taken = new Set<string>();
  #building = 0;
  #running = false;
  #work: Promise<void>[] = [];
  #lastError: unknown;
  #retry: NodeJS.Timeout | undefined;

  constructor(ctx: HostContext, targets: readonly PoolTarget[], options: { concurrency?: number } = {}) {
    this.#ctx = ctx;
    this.#targets = targets.filter((target) => target.count > 0);
    this.#concurrency = options.concurrency ?? 1;
    this.#log = ctx.log.child({ part: 'vm-pool' });
  }

  /** Whether any template is pooled. */
  get enabled(): boolean {
    return this.#targets.length > 0;
  }

  /** Starts keeping the pool full. */
  start(): void {
    this.#running = true;
    this.#refill();
  }

  /** Stops refilling, waits for the builds in flight, then tears down every pool VM. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    await Promise.allSettled(this.#work);
    for (const entry of this.#ctx.ledger.poolEntries()) await this.#teardown(entry);
  }

  /**
   * A ready VM of this template and shape, reserved for the caller, who either commits it
   * to the ledger as a sandbox (ledger.takeFromPool, then `taken`) or gives it back.
   */
  reserve(shape: { template: string; vcpus: number; memoryMib: number }): PoolEntry | undefined {
    const key = shapeKey(shape);
    const entry = this.#ctx.ledger
      .poolEntries()
      .find((e) => e.state === 'ready' && !this.#taken.has(e.vmId) && shapeKey(e) === key);
    if (entry !== undefined) this.#taken.add(entry.vmId);
    return entry;
  }

  /** The reserved VM is a sandbox now (or was given back): refill in its place. */
  settle(vmId: string): void {
    this.#taken.delete(vmId);
    this.#refill();
  }

  /** Figures for the heartbeat. */
  stats(): PoolStats {
    const byTemplate: PoolStats['byTemplate'] = {};
    for (const target of this.#targets) {
      byTemplate[target.template] = {
        ready: 0,
        warming: 0,
        target: target.count,
        vcpus: target.vcpus,
        memoryMib: target.memoryMib,
      };
    }
    const used = { vcpus: 0, memoryMib: 0, slots: 0 };
    for (const entry of this.#ctx.ledger.poolEntries()) {
      const figures = byTemplate[entry.template];
      if (figures !== undefined) figures[entry.state] += 1;
      used.vcpus += entry.vcpus;
      used.memoryMib += entry.memoryMib;
      used.slots += 1;
    }
    return { byTemplate, used };
  }

  /** Waits until every target is full (tests, benches). */
  async waitUntilFull(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stats = this.stats();
      if (Object.values(stats.byTemplate).every((t) => t.ready >= t.target)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `the VM pool did not fill within ${timeoutMs} ms: ${JSON.stringify(stats.byTemplate)}`,
          {
            cause: this.#lastError,
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A pool VM's VMM exited: its resources go and a new one is built in its place. */
  async onCrash(vmId: string): Promise<void> {
    const entry = this.#ctx.ledger.getPool(vmId);
    if (entry === undefined || this.#taken.has(vmId)) return;
    this.#log.warn({ vmId }, 'pool VM crashed; replacing it');
    await this.#teardown(entry);
    this.#refill();
  }

  /**
   * After a restart: ready VMs whose VMM still runs are kept (re-attached, disk restored),
   * every other pool entry (a build cut short, a VMM that died) is torn down. Returns the
   * ids kept and removed.
   */
  async reconcile(): Promise<{ kept: string[]; removed: string[] }> {
    const kept: string[] = [];
    const removed: string[] = [];
    for (const entry of this.#ctx.ledger.poolEntries()) {
      const target = this.#targets.some((t) => shapeKey(t) === shapeKey(entry));
      const live = entry.state === 'ready' && target && (await this.#ctx.vms.get(entry.vmId).reattach());
      if (live) {
        await this.#ctx.disks.restore(entry.vmId, this.#base(entry));
        kept.push(entry.vmId);
      } else {
        await this.#teardown(entry);
        removed.push(entry.vmId);
      }
    }
    return { kept, removed };
  }

  #refill(): void {
    if (!this.#running) return;
    while (this.#building < this.#concurrency) {
      const target = this.#deficit();
      if (target === undefined) return;
      this.#building += 1;
      const work = this.#warm(target)
        .catch((error: unknown) => {
          this.#lastError = error;
          this.#log.warn({ err: error, template: target.template }, 'could not warm a pool VM');
        })
        .finally(() => {
          this.#building -= 1;
          this.#work = this.#work.filter((w) => w !== work);
          if (this.#lastError === undefined) this.#refill();
          else this.#retryLater();
        });
      this.#work.push(work);
    }
  }

  // A failed build is tried again after a pause, never in a tight loop.
  #retryLater(): void {
    if (this.#retry !== undefined || !this.#running) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#lastError = undefined;
      this.#refill();
    }, RETRY_MS);
    this.#retry.unref();
  }

  #deficit(): PoolTarget | undefined {
    const entries = this.#ctx.ledger.poolEntries();
    return this.#targets.find(
      (target) =>
        entries.filter((e) => shapeKey(e) === shapeKey(target) && !this.#taken.has(e.vmId)).length <
        target.count,
    );
  }

  // Builds one pool VM: ledger entry first (so a crash mid-build is torn down at restart),
  // then slot, disk and VM, its guest answering, then paused.
  async #warm(target: PoolTarget): Promise<void> {
    const ctx = this.#ctx;
    const template = ctx.templates.get(target.template);
    const diskBytes = await fileBytes(template.imagePath);
    await ctx.admission.checkDisk(ctx, target.memoryMib * MIB + diskBytes, `a pool VM of ${target.template}`);
    const vmId = `pool-${randomBytes(5).toString('hex')}`;
    let entry: PoolEntry = {
      vmId,
      template: target.template,
      vcpus: target.vcpus,
      memoryMib: target.memoryMib,
      state: 'warming',
      createdAt: new Date().toISOString(),
    };
    await ctx.ledger.putPool(entry);
    try {
      const slot: SlotLayout = await ctx.slots.take(vmId);
      entry = { ...entry, slot: slot.slot, address: slot.hostIp };
      await ctx.ledger.putPool(entry);
      const disk = await ctx.disks.create(vmId, this.#base(entry));
      const vm = ctx.vms.get(vmId);
      await vm.ensureBooted(vmSpecFor(ctx, { ...entry, sandboxId: vmId }, slot, disk));
      await waitGuestReady(template, slot.hostIp, entry.memoryMib);
      await vm.ensurePaused();
      if (!this.#running && this.#ctx.ledger.getPool(vmId) === undefined) return;
      await ctx.ledger.putPool({ ...entry, state: 'ready', diskBytes: disk.usedBytes });
      this.#lastError = undefined;
      this.#log.info({ vmId, template: entry.template }, 'pool VM ready');
    } catch (error) {
      await this.#teardown(entry).catch((teardownError: unknown) =>
        this.#log.warn({ err: teardownError, vmId }, 'could not tear down a failed pool VM'),
      );
      throw error;
    }
  }

  // VMM, disk, slot, runtime files, then the entry; each tolerates what is already gone.
  async #teardown(entry: PoolEntry): Promise<void> {
    const ctx = this.#ctx;
    await ctx.vms.get(entry.vmId).shutdown();
    await ctx.disks.remove(entry.vmId, this.#base(entry));
    for (const [slot, claim] of await ctx.claims.list()) {
      if (claim.owner === entry.vmId) await ctx.slots.release(slot, entry.vmId);
    }
    await removeRuntimeFiles(ctx, entry.vmId);
    await ctx.ledger.removePool(entry.vmId);
  }

  #base(entry: { template: string }) {
    const template = this.#ctx.templates.get(entry.template);
    return { templateId: template.templateId, imagePath: template.imagePath };
  }
}
