import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors/index.ts';
import { pollUntil } from '../../../src/util/poll.ts';
import { simulatorBinary } from '../../../src/vmm/cloud-hypervisor/ch-backend.ts';
import { buildChArgs } from '../../../src/vmm/cloud-hypervisor/launch-args.ts';
import { findVmmProcesses, killUnownedVmms } from '../../../src/vmm/index.ts';
import {
  findVmmProcessesIn,
  inPrivateMountNs,
  isAlive,
  type LaunchSpec,
  readStartTime,
  type VmmProcess,
  vmmArguments,
} from '../../../src/vmm/process/index.ts';
import { findQemuBinary } from '../../../src/vmm/qemu/qemu-backend.ts';
import { bareQemuArgv } from '../../support/bare-qemu.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';
import { ProcessJanitor } from './stand-in.ts';

const qemu = await findQemuBinary();

/** The simulator launched as the CH driver launches it, with its files in `dir`. */
function simulatorIn(dir: string, env: Record<string, string> = {}): LaunchSpec {
  const apiSocket = join(dir, 'api.sock');
  return {
    argv: buildChArgs({ binary: simulatorBinary(), apiSocket, logFile: join(dir, 'vmm.log'), verbosity: 1 }),
    env,
    outputPath: join(dir, 'vmm.out'),
    pidfilePath: join(dir, 'vmm.pid'),
    identity: apiSocket,
  };
}

describe('vmmArguments (which command lines are VMMs)', () => {
  it('knows cloud-hypervisor, qemu-system-*, the simulator, and sees through the namespace wrappers', () => {
    expect(vmmArguments(['/usr/bin/cloud-hypervisor', '--api-socket', 'path=/r/a/api.sock'])).toEqual([
      '--api-socket',
      'path=/r/a/api.sock',
    ]);
    expect(vmmArguments(['ip', 'netns', 'exec', 'hangar-ns-3', 'cloud-hypervisor', '-v'])).toEqual(['-v']);
    expect(
      vmmArguments(['unshare', '--mount', '--propagation', 'private', 'qemu-system-x86_64', '-S']),
    ).toEqual(['-S']);
    expect(vmmArguments([process.execPath, '/src/hangar/bin/hangar-ch-sim.ts', '-v'])).toEqual(['-v']);
    // The built package runs the compiled simulator.
    expect(
      vmmArguments([process.execPath, '/app/node_modules/hangar/dist/bin/hangar-ch-sim.js', '-v']),
    ).toEqual(['-v']);
    expect(vmmArguments(['/usr/local/bin/hangar-ch-sim', '--version'])).toEqual(['--version']);
  });

  it('refuses everything else, also a node running another script that names a runtime dir', () => {
    expect(vmmArguments(['sh', '-c', 'sleep 60', '/r/a/api.sock'])).toBeUndefined();
    expect(vmmArguments(['node', '-e', 'setTimeout(() => {}, 1e6)', '/r/a/api.sock'])).toBeUndefined();
    expect(vmmArguments(['node', '/x/worker.ts', '/x/hangar-ch-sim.ts'])).toBeUndefined();
    expect(vmmArguments(['cloud-hypervisor-helper', '/r/a/api.sock'])).toBeUndefined();
    expect(vmmArguments([])).toBeUndefined();
  });
});

describe('findVmmProcesses and killUnownedVmms [CH simulator stand-in]', () => {
  let temp: TempDir;
  let runRoot: string;
  const janitor = new ProcessJanitor();

  beforeEach(async () => {
    temp = await makeTempDir('hangar-findvmm-');
    runRoot = join(temp.path, 'run');
  });
  afterEach(async () => {
    janitor.killAll();
    await temp.remove();
  });

  async function launchIn(dir: string, spec: (dir: string) => LaunchSpec = simulatorIn): Promise<VmmProcess> {
    await mkdir(dir, { recursive: true });
    return janitor.launch(spec(dir));
  }

  // Right after spawn a child may not have exec'd yet (its command line is still the parent's).
  async function waitFound(count: number): Promise<Awaited<ReturnType<typeof findVmmProcesses>>> {
    return pollUntil(
      `${count} VMMs under ${runRoot}`,
      async () => {
        const found = await findVmmProcesses(runRoot);
        return found.length === count ? found : undefined;
      },
      { timeoutMs: 10_000 },
    );
  }

  it('finds each VMM by the sandbox runtime dir its command line names, and nothing else', async () => {
    const a = await launchIn(join(runRoot, 'sb-a'));
    // In a private mount namespace: `unshare` execs the VMM in place.
    const b = await launchIn(join(runRoot, 'sb-b'), (dir) => {
      const spec = simulatorIn(dir);
      return { ...spec, argv: inPrivateMountNs(spec.argv) };
    });
    // Not a sandbox id, outside runRoot, and a program that is no VMM: none of them counts.
    await launchIn(join(runRoot, 'Not_An_Id'));
    await launchIn(join(temp.path, 'elsewhere', 'sb-c'));
    await launchIn(join(runRoot, 'sb-d'), (dir) => ({
      argv: [process.execPath, '-e', 'setTimeout(() => {}, 1e9)', join(dir, 'api.sock')],
      outputPath: join(dir, 'vmm.out'),
      pidfilePath: join(dir, 'vmm.pid'),
      identity: join(dir, 'api.sock'),
    }));

    const found = await waitFound(2);
    expect(found).toEqual([
      { sandboxId: 'sb-a', pid: a.pid, startTime: readStartTime(a.pid), argv: a.argv },
      { sandboxId: 'sb-b', pid: b.pid, startTime: readStartTime(b.pid), argv: expect.any(Array) },
    ]);
    expect((await findVmmProcessesIn(join(runRoot, 'sb-b'))).map((vmm) => vmm.pid)).toEqual([b.pid]);
    expect(await findVmmProcessesIn(join(runRoot, 'sb-x'))).toEqual([]);
    expect(await findVmmProcesses(`${runRoot}/`)).toEqual(found);
  });

  it.skipIf(qemu === undefined)('finds a real QEMU by the QMP socket it was given', async () => {
    const dir = join(runRoot, 'sb-q');
    const proc = await launchIn(dir, () => {
      const socket = join(dir, 'api.sock');
      return {
        argv: bareQemuArgv(qemu!, socket),
        outputPath: join(dir, 'vmm.out'),
        pidfilePath: join(dir, 'vmm.pid'),
        identity: socket,
      };
    });
    expect((await waitFound(1)).map(({ sandboxId, pid }) => ({ sandboxId, pid }))).toEqual([
      { sandboxId: 'sb-q', pid: proc.pid },
    ]);
  });

  it('killUnownedVmms ends only the VMMs of sandboxes not owned, escalating to SIGKILL', async () => {
    const owned = await launchIn(join(runRoot, 'sb-owned'));
    const plain = await launchIn(join(runRoot, 'sb-lost'));
    const stubborn = await launchIn(join(runRoot, 'sb-stubborn'), (dir) =>
      simulatorIn(dir, { HANGAR_SIM_FAULT: 'ignore-sigterm' }),
    );
    await waitFound(3);
    // The simulator ignores SIGTERM only once its handler is installed: wait until it answers.
    await pollUntil(
      'the stubborn simulator to listen',
      async () =>
        (await readFile(join(runRoot, 'sb-stubborn', 'vmm.log'), 'utf8')).includes('API server listening')
          ? true
          : undefined,
      { timeoutMs: 10_000 },
    );

    const killed = await killUnownedVmms(runRoot, new Set(['sb-owned']), undefined, {
      termGraceMs: 300,
      killGraceMs: 5_000,
    });
    expect(killed.sort((x, y) => x.sandboxId.localeCompare(y.sandboxId))).toEqual([
      { sandboxId: 'sb-lost', pid: plain.pid, how: 'sigterm' },
      { sandboxId: 'sb-stubborn', pid: stubborn.pid, how: 'sigkill' },
    ]);
    expect(isAlive(plain.pid)).toBe(false);
    expect(isAlive(stubborn.pid)).toBe(false);
    expect(isAlive(owned.pid)).toBe(true);
    expect((await findVmmProcesses(runRoot)).map((vmm) => vmm.sandboxId)).toEqual(['sb-owned']);
    expect(await killUnownedVmms(runRoot, new Set(['sb-owned']))).toEqual([]);
  });

  it('refuses a run root that is not an absolute path below /', async () => {
    await expect(findVmmProcesses('/')).rejects.toBeInstanceOf(ValidationError);
    await expect(findVmmProcesses('run')).rejects.toBeInstanceOf(ValidationError);
    await expect(killUnownedVmms('/', new Set())).rejects.toBeInstanceOf(ValidationError);
  });
});
