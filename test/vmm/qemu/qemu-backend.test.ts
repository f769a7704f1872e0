import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors/index.ts';
import { findChBinary } from '../../../src/vmm/cloud-hypervisor/ch-backend.ts';
import { resolveAccel } from '../../../src/vmm/qemu/accel.ts';
import { findQemuBinary, QemuBackend } from '../../../src/vmm/qemu/qemu-backend.ts';
import { QemuSandboxVm } from '../../../src/vmm/qemu/qemu-sandbox-vm.ts';
import { selectVmmBackend } from '../../../src/vmm/select-backend.ts';

const qemu = await findQemuBinary();
const ch = await findChBinary();

describe('resolveAccel', () => {
  it('defaults to TCG and honours HANGAR_QEMU_ACCEL', async () => {
    expect(await resolveAccel({})).toBe('tcg');
    expect(await resolveAccel({ HANGAR_QEMU_ACCEL: 'kvm' })).toBe('kvm');
    expect(await resolveAccel({ HANGAR_QEMU_ACCEL: 'tcg' })).toBe('tcg');
    await expect(resolveAccel({ HANGAR_QEMU_ACCEL: 'hvf' })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe.skipIf(qemu === undefined)('QemuBackend.detect and selectVmmBackend', () => {
  it('finds the installed QEMU: a real VMM, not a stand-in', async () => {
    const backend = await QemuBackend.detect({ env: { PATH: process.env.PATH } });
    expect(backend.info).toMatchObject({ kind: 'qemu', standIn: false });
    expect(backend.info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(backend.info.description).toContain(`QEMU ${backend.info.version} (TCG software emulation)`);
    expect(backend.sandbox('sb-1', '/tmp/hangar-unused')).toBeInstanceOf(QemuSandboxVm);
  });

  it('says clearly when QEMU is missing', async () => {
    await expect(QemuBackend.detect({ env: { PATH: '/nonexistent' } })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });

  it("'qemu' forces QEMU; 'auto' takes it when no cloud-hypervisor is installed", async () => {
    expect((await selectVmmBackend('qemu')).info.kind).toBe('qemu');
    expect((await selectVmmBackend('auto')).info.kind).toBe(ch === undefined ? 'qemu' : 'cloud-hypervisor');
  });

  it("'ch-or-simulator' never picks QEMU", async () => {
    const backend = await selectVmmBackend('ch-or-simulator');
    expect(backend.info).toMatchObject({ kind: 'cloud-hypervisor', standIn: ch === undefined });
  });
});
