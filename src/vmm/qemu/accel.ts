import { access, constants } from 'node:fs/promises';
import { execa } from 'execa';
import { ValidationError } from '../../errors/index.ts';
import type { QemuAccel } from './qemu-args.ts';

/**
 * Whether KVM initialises: /dev/kvm opens read-write and QEMU starts with -accel kvm and
 * quits cleanly. Necessary, not sufficient: on a PVM-only host this passes, yet a stock
 * guest dies on its first MSR write. So it only decides when HANGAR_QEMU_ACCEL=auto.
 */
export async function kvmUsable(binary = 'qemu-system-x86_64'): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  const probe = await execa(
    binary,
    [
      '-accel',
      'kvm',
      '-machine',
      'none',
      '-display',
      'none',
      '-nodefaults',
      '-no-user-config',
      '-S',
      '-monitor',
      'stdio',
    ],
    { input: 'quit\n', reject: false, timeout: 10_000 },
  );
  return probe.exitCode === 0;
}

/**
 * The accelerator to run guests with: HANGAR_QEMU_ACCEL 'kvm' or 'tcg' when set, 'auto'
 * to trust kvmUsable(), and TCG otherwise. TCG is the default because no cheap probe can
 * prove a guest survives KVM here (see kvmUsable); TCG is slow but always correct.
 */
export async function resolveAccel(
  env: NodeJS.ProcessEnv = process.env,
  binary = 'qemu-system-x86_64',
): Promise<QemuAccel> {
  const wanted = env.HANGAR_QEMU_ACCEL ?? 'tcg';
  if (wanted === 'kvm' || wanted === 'tcg') return wanted;
  if (wanted === 'auto') return (await kvmUsable(binary)) ? 'kvm' : 'tcg';
  throw new ValidationError(`invalid HANGAR_QEMU_ACCEL ${JSON.stringify(wanted)}: use kvm, tcg or auto`, {
    field: 'HANGAR_QEMU_ACCEL',
    value: wanted,
  });
}
