import { rm } from 'node:fs/promises';
import type { BaseImage, RootDisk } from '../../devicemapper/root-disk-provider.ts';
import { ensureNetwork, type SlotLayout } from '../../network/index.ts';
import { type LedgerEntry, resourceIdOf } from '../../state/host-ledger.ts';
import type { HostContext } from '../host-context.ts';

/**
 * The sandbox's network slot: the one the ledger names, else one already claimed for it
 * (a crash between claim and ledger write), else a warm one from the pool.
 */
export async function ensureSlot(ctx: HostContext, entry: LedgerEntry): Promise<SlotLayout> {
  let slot = entry.slot;
  if (slot === undefined) {
    for (const [claimed, record] of await ctx.claims.list()) {
      if (record.owner === resourceIdOf(entry)) slot = claimed;
    }
  }
  if (slot === undefined) return ctx.slots.take(resourceIdOf(entry));
  await ctx.claims.claimSpecific(slot, resourceIdOf(entry));
  return ensureNetwork(slot, ctx.network);
}

/** Gives a sandbox's slot back (network removed, claim released); tolerates no slot. */
export async function releaseSlot(ctx: HostContext, entry: LedgerEntry): Promise<void> {
  let slot = entry.slot;
  if (slot === undefined) {
    for (const [claimed, record] of await ctx.claims.list()) {
      if (record.owner === resourceIdOf(entry)) slot = claimed;
    }
  }
  if (slot !== undefined) await ctx.slots.release(slot, resourceIdOf(entry));
}

/** The base image of a sandbox's template. */
export function baseOf(ctx: HostContext, entry: LedgerEntry): BaseImage {
  const template = ctx.templates.get(entry.template);
  return { templateId: template.templateId, imagePath: template.imagePath };
}

/** Re-finds a sandbox's existing disk (restores the device if a restart lost it). */
export function currentDisk(ctx: HostContext, entry: LedgerEntry): Promise<RootDisk> {
  return ctx.disks.restore(resourceIdOf(entry), baseOf(ctx, entry));
}

/** Forgets a VM's handle and removes its runtime directory (socket, pidfile, logs), by resource id. */
export async function removeRuntimeFiles(ctx: HostContext, resourceId: string): Promise<void> {
  ctx.vms.forget(resourceId);
  await rm(ctx.paths.runtimeDir(resourceId), { recursive: true, force: true });
}

/** A sandbox's VM handle (its resources may carry a pool VM's name). */
export function vmOf(ctx: HostContext, entry: LedgerEntry) {
  return ctx.vms.get(resourceIdOf(entry));
}
