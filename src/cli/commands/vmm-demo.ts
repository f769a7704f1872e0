import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CloudHypervisorBackend } from '../../vmm/cloud-hypervisor/ch-backend.ts';
import type { SandboxVm } from '../../vmm/vm-driver.ts';
import { VmSpec } from '../../vmm/vm-spec.ts';

// Latencies that make the simulator feel like a small real VM (boot, pause, snapshot growing with memory).
const DEMO_LATENCY = 'boot=150,pause=20,resume=20,snapshot=80,snapshot_per_gib=400,restore=120,shutdown=30';

/** `hangar vmm-demo`: the CH driver alone, on the real binary or the simulator. */
export function registerVmmDemo(program: Command): void {
  program
    .command('vmm-demo')
    .description('drive one VM through launch, boot, pause, snapshot, restore into a second VM, and shutdown')
    .option('--simulator', 'use the CH simulator even if cloud-hypervisor is installed')
    .option('--memory <mib>', 'guest memory in MiB', '512')
    .action(async (options: { simulator?: boolean; memory: string }) => {
      await runVmmDemo({ simulator: options.simulator === true, memoryMib: Number(options.memory) });
    });
}

async function runVmmDemo(options: { simulator: boolean; memoryMib: number }): Promise<void> {
  const backend = await CloudHypervisorBackend.detect({ simulator: options.simulator });
  console.log(`VMM: ${backend.info.description}`);
  const work = await mkdtemp(join(tmpdir(), 'hangar-vmm-demo-'));
  const vms: SandboxVm[] = [];
  try {
    const spec = async (id: string) => {
      const disk = join(work, `${id}.img`);
      await truncate(disk, 0).catch(() => writeFile(disk, ''));
      await truncate(disk, 64 * 1024 * 1024);
      return VmSpec.parse({
        sandboxId: id,
        vcpus: 1,
        memoryMib: options.memoryMib,
        kernelPath: join(work, 'vmlinux'),
        cmdline: 'console=ttyS0 reboot=k panic=1',
        diskPath: disk,
        env: backend.info.standIn ? { HANGAR_SIM_LATENCY: DEMO_LATENCY } : {},
      });
    };
    await writeFile(join(work, 'vmlinux'), 'demo kernel placeholder\n');
    const first = backend.sandbox('demo-a', join(work, 'run', 'demo-a'));
    const second = backend.sandbox('demo-b', join(work, 'run', 'demo-b'));
    vms.push(first, second);
    const snapshotDir = join(work, 'snapshots', 'snap-1');
    await mkdir(join(work, 'snapshots'), { recursive: true });

    await step('launch + boot demo-a', async () => first.ensureBooted(await spec('demo-a')));
    await step('pause demo-a', () => first.ensurePaused());
    const snap = await step('snapshot demo-a', () => first.snapshotTo(snapshotDir));
    console.log(`    ${snap.dir}: ${(snap.diskBytes / 1024).toFixed(0)} KiB on disk (sparse memory file)`);
    await step('restore snapshot as demo-b (resumed)', async () =>
      second.restoreFrom(snapshotDir, await spec('demo-b'), { resume: true }),
    );
    console.log(`    demo-a is ${await first.state()}, demo-b is ${await second.state()}`);
    await step('resume demo-a', () => first.ensureResumed());
    await step('shut down demo-a', () => first.shutdown());
    await step('shut down demo-b', () => second.shutdown());
  } finally {
    await Promise.allSettled(vms.map((vm) => vm.shutdown()));
    await rm(work, { recursive: true, force: true });
  }
}

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await run();
  const outcome = typeof result === 'string' ? ` (${result})` : '';
  console.log(`  ${name.padEnd(40)} ${(performance.now() - started).toFixed(1).padStart(8)} ms${outcome}`);
  return result;
}
