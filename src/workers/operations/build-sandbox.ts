import type { RootDisk } from '../../devicemapper/root-disk-provider.ts';
import type { SandboxState } from '../../events/event-schemas.ts';
import type { SlotLayout } from '../../network/index.ts';
import { type LedgerEntry, resourceIdOf } from '../../state/host-ledger.ts';
import type { VmSpec } from '../../vmm/vm-spec.ts';
import { fileBytes } from '../admission.ts';
import { reseedGuest } from '../guest-entropy.ts';
import { waitGuestReady } from '../guest-readiness.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import type { Step } from '../step-runner.ts';
import { vmSpecFor } from '../vm-spec-for.ts';
import { baseOf, ensureSlot, releaseSlot, removeRuntimeFiles, vmOf } from './sandbox-resources.ts';

/** How create and restore differ: the state while building, where the disk and VM come from, where it ends. */
export interface SandboxBuildPlan {
  building: 'creating' | 'restoring';
  /** The job building it: reconcile settles the sandbox if this job is gone. */
  jobId: string;
  disk(entry: LedgerEntry): Promise<RootDisk>;
  vm(spec: VmSpec): Promise<unknown>;
  final: Extract<SandboxState, 'running' | 'paused'>;
  /**
   * The VM runs on memory it did not boot into (a snapshot's): it shares its source's RNG
   * state, so a running one is reseeded through the guest before it is handed out.
   */
  inheritsMemory?: boolean;
}

/**
 * The steps that bring up a sandbox, shared by create and restore: the record in its
 * building state, a network slot, the disk, the VM, the guest answering (when it runs),
 * fresh entropy for a running VM that inherited its memory, the final state. Each undo
 * tolerates what is already gone. Returns the steps and a getter for the entry as the steps
 * leave it.
 */
export function sandboxBuildSteps(
  ctx: HostContext,
  initial: LedgerEntry,
  plan: SandboxBuildPlan,
): { steps: Step[]; entry: () => LedgerEntry } {
  let entry = initial;
  let slot: SlotLayout | undefined;
  let disk: RootDisk | undefined;
  const vm = vmOf(ctx, entry);
  const steps: Step[] = [
    {
      // Admission and the ledger write happen under one host-wide lock: the entry counts
      // against the host's room before anyone else is admitted.
      name: 'admit',
      run: async () => {
        const diskBytes = await fileBytes(ctx.templates.get(entry.template).imagePath);
        entry = await ctx.admission.admit(ctx, entry, diskBytes, () =>
          setSandboxState(ctx, { ...entry, jobId: plan.jobId }, plan.building),
        );
      },
    },
    {
      name: 'network',
      run: async () => {
        slot = await ensureSlot(ctx, entry);
        entry = { ...entry, slot: slot.slot, address: slot.hostIp };
        await ctx.ledger.put(entry);
      },
      undo: () => releaseSlot(ctx, entry),
    },
    {
      name: 'disk',
      run: async () => (disk = await plan.disk(entry)),
      undo: () => ctx.disks.remove(resourceIdOf(entry), baseOf(ctx, entry)),
    },
    {
      name: 'vm',
      run: () => plan.vm(vmSpecFor(ctx, entry, slot!, disk!)),
      undo: async () => {
        await vm.shutdown();
        await removeRuntimeFiles(ctx, resourceIdOf(entry));
      },
    },
    {
      name: 'guest-ready',
      run: async () =>
        plan.final === 'running'
          ? waitGuestReady(ctx.templates.get(entry.template), slot!.hostIp, entry.memoryMib)
          : 0,
    },
    ...(plan.inheritsMemory === true && plan.final === 'running'
      ? [
          {
            name: 'reseed',
            run: () =>
              reseedGuest(ctx.templates.get(entry.template), slot!.hostIp, {
                log: ctx.log.child({ sandboxId: entry.sandboxId }),
              }),
          },
        ]
      : []),
    {
      name: plan.final,
      run: async () =>
        (entry = await setSandboxState(
          ctx,
          // Restored paused, it keeps its source's RNG state: its first resume reseeds it.
          plan.inheritsMemory === true && plan.final === 'paused'
            ? { ...entry, reseedOnResume: true }
            : entry,
          plan.final,
          { diskBytes: disk!.usedBytes, pid: vm.pid },
          { atFinish: true },
        )),
    },
  ];
  return { steps, entry: () => entry };
}
