import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors/index.ts';
import { restoreMigrationUri, snapshotMigrationUri } from '../../../src/vmm/qemu/migration-uri.ts';
import { buildQemuArgs } from '../../../src/vmm/qemu/qemu-args.ts';
import { VmSpec } from '../../../src/vmm/vm-spec.ts';

const SPEC = VmSpec.parse({
  sandboxId: 'sb-1',
  vcpus: 2,
  memoryMib: 256,
  kernelPath: '/g/vmlinuz',
  initramfsPath: '/g/initramfs.cpio.gz',
  cmdline: 'console=ttyS0 quiet',
  diskPath: '/dev/mapper/hangar-sb-1',
});

const PLAIN = [
  'qemu-system-x86_64',
  '-accel',
  'tcg',
  '-machine',
  'q35',
  '-m',
  '256',
  '-smp',
  '2',
  '-nodefaults',
  '-no-user-config',
  '-no-shutdown',
  '-display',
  'none',
  '-serial',
  'file:/run/sb-1/serial.log',
  '-qmp',
  'unix:/run/sb-1/api.sock,server=on,wait=off',
  '-kernel',
  '/g/vmlinuz',
  '-initrd',
  '/g/initramfs.cpio.gz',
  '-append',
  'console=ttyS0 quiet',
  '-drive',
  'file=/dev/mapper/hangar-sb-1,if=virtio,format=raw,cache=writeback',
  '-netdev',
  'tap,id=n0,ifname=tap0,script=no,downscript=no',
  '-device',
  'virtio-net-pci,netdev=n0,mac=02:fc:00:00:00:05',
  '-device',
  'virtio-rng-pci',
  '-device',
  'vmgenid,guid=auto',
];

const BASE = {
  accel: 'tcg' as const,
  spec: SPEC,
  qmpSocket: '/run/sb-1/api.sock',
  serialLog: '/run/sb-1/serial.log',
};

describe('buildQemuArgs (golden argv)', () => {
  it('plain boot', () => {
    expect(buildQemuArgs(BASE)).toEqual(PLAIN);
  });

  it('KVM, another binary, a pidfile, no initramfs', () => {
    const { initramfsPath: _, ...noInitrd } = SPEC;
    const argv = buildQemuArgs({
      ...BASE,
      spec: noInitrd,
      accel: 'kvm',
      binary: '/opt/qemu/bin/qemu-system-x86_64',
      pidfile: '/run/sb-1/qemu.pid',
    });
    expect(argv.slice(0, 3)).toEqual(['/opt/qemu/bin/qemu-system-x86_64', '-accel', 'kvm']);
    expect(argv).not.toContain('-initrd');
    expect(argv.slice(argv.indexOf('-pidfile'), argv.indexOf('-pidfile') + 2)).toEqual([
      '-pidfile',
      '/run/sb-1/qemu.pid',
    ]);
  });

  it('restore: starts paused (-S) and loads the stream (-incoming) last', () => {
    const incoming = restoreMigrationUri('/snaps/s1');
    expect(buildQemuArgs({ ...BASE, incoming })).toEqual([
      ...PLAIN,
      '-S',
      '-incoming',
      'exec:cat /snaps/s1/memory',
    ]);
  });

  it('inside the sandbox network namespace', () => {
    expect(buildQemuArgs({ ...BASE, spec: { ...SPEC, netns: 'hangar-ns-7' } })).toEqual([
      'ip',
      'netns',
      'exec',
      'hangar-ns-7',
      ...PLAIN,
    ]);
  });

  it('refuses paths QEMU would read as more options (commas) or relative ones', () => {
    expect(() => buildQemuArgs({ ...BASE, spec: { ...SPEC, diskPath: '/d/a,format=qcow2' } })).toThrow(
      ValidationError,
    );
    expect(() => buildQemuArgs({ ...BASE, qmpSocket: 'api.sock' })).toThrow(/qmpSocket/);
    expect(() => buildQemuArgs({ ...BASE, serialLog: '/run/x,append=on' })).toThrow(/serialLog/);
  });
});

describe('migration URIs', () => {
  it('write through a .part file renamed once cat succeeded', () => {
    expect(snapshotMigrationUri('/snaps/s1.partial')).toBe(
      'exec:cat > /snaps/s1.partial/memory.part && mv /snaps/s1.partial/memory.part /snaps/s1.partial/memory',
    );
  });

  it('refuse any path the shell could read as syntax', () => {
    for (const bad of [
      '/snaps/a b',
      '/snaps/$(reboot)',
      '/snaps/a;b',
      "/snaps/'",
      'relative/dir',
      '/snaps/a`b`',
    ]) {
      expect(() => snapshotMigrationUri(bad)).toThrow(ValidationError);
      expect(() => restoreMigrationUri(bad)).toThrow(ValidationError);
    }
  });
});
