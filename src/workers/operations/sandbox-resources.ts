import { rm } from 'node:fs/promises';
import type { BaseImage, RootDisk } from '../../devicemapper/root-disk-provider.ts';
import { ensureNetwork, type SlotLayout } from '../../network/index.ts';
import type { LedgerEntry } from '../../state/host-ledger.ts';
import type { HostContext } from '../host-context.ts';

/**
 * The sandbox's network slot: the one the ledger names, else one already claimed for it
 * (a crash between claim and ledger write), else a warm one from the pool.
 */
export async function ensureSlot(ctx: HostContext, entry: LedgerEntry): Promise<SlotLayout> {
  let slot = entry.slot;
  if (slot === undefined) {
    for (const [claimed, record] of await ctx.claims.list()) {
      if (record.owner === entry.sandboxId) slot = claimed;
    }
  }
  if (slot === undefined) return ctx.slots.take(entry.sandboxId);
  await ctx.claims.claimSpecific(slot, entry.sandboxId);
  return ensureNetwork(slot, ctx.network);
}

/** Gives a sandbox's slot back (network removed, claim released); tolerates no slot. */
export async function releaseSlot(ctx: HostContext, entry: LedgerEntry): Promise<void> {
  let slot = entry.slot;
  if (slot === undefined) {
    for (const [claimed, record] of await ctx.claims.list()) {
      if (record.owner === entry.sandboxId) slot = claimed;
    }
  }
  if (slot !== undefined) await ctx.slots.release(slot, entry.sandboxId);
}

/** The base image of a sandbox's template. */
export function baseOf(ctx: HostContext, entry: LedgerEntry): BaseImage {
  const template = ctx.templates.get(entry.template);
  return { templateId: template.templateId, imagePath: template.imagePath };
}

/** Re-finds a sandbox's existing disk (restores the device if a restart lost it). */
export function currentDisk(ctx: HostContext, entry: LedgerEntry): Promise<RootDisk> {
  return ctx.disks.restore(entry.sandboxId, baseOf(ctx, entry));
}

/** Forgets a sandbox's VM handle and removes its runtime directory (socket, pidfile, logs). */
export async function removeRuntimeFiles(ctx: HostContext, sandboxId: string): Promise<void> {
  ctx.vms.forget(sandboxId);
  await rm(ctx.paths.runtimeDir(sandboxId), { recursive: true, force: true });
}
