import { z } from 'zod';
import { Identifier } from '../validation/identifiers.ts';

/** Every guest gets this MAC, so a memory snapshot from one slot restores into any other. */
export const GUEST_MAC = '02:fc:00:00:00:05';

/** The TAP device inside every sandbox's network namespace. */
export const GUEST_TAP = 'tap0';

const AbsolutePath = z.string().regex(/^\/[^,\0]*$/, 'must be an absolute path without commas');

/** What a sandbox's VM is made of: backend-neutral, validated before any process starts. */
export const VmSpec = z
  .object({
    sandboxId: Identifier,
    vcpus: z.number().int().min(1).max(64),
    memoryMib: z.number().int().min(64).max(262_144),
    kernelPath: AbsolutePath,
    initramfsPath: AbsolutePath.optional(),
    cmdline: z.string().max(2048),
    /** The sandbox's root disk: a dm-snapshot device or a file-CoW loop device. */
    diskPath: AbsolutePath,
    /** Network namespace the VMM runs in; the TAP device lives there. */
    netns: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,30}$/)
      .optional(),
    tap: z
      .string()
      .regex(/^[a-z0-9]{1,15}$/)
      .default(GUEST_TAP),
    mac: z
      .string()
      .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
      .default(GUEST_MAC),
    /** Extra environment for the VMM process (simulator latency and fault knobs in tests). */
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export type VmSpec = z.infer<typeof VmSpec>;
export type VmSpecInput = z.input<typeof VmSpec>;
