import { stat, truncate, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import {
  DM_INFO_ABSENT,
  dmBusy,
  dmInfo,
  dmList,
  dmRemoveAbsent,
  type LoopEntry,
  loopDetachAbsent,
  losetupJson,
} from './dm-outputs.ts';
import { type RecordedCall, RecordingRunner, type Reply } from './recording-runner.ts';

interface Loop {
  backFile: string;
  ro: boolean;
  autoclear: boolean;
}

interface DmDevice {
  /** The table as created (devices named /dev/loopN). */
  table: string;
  state: 'ACTIVE' | 'SUSPENDED';
  live: boolean;
  openCount: number;
}

/** A fault: the next `times` calls matching `when` answer `reply` instead of the model. */
interface Fault {
  when: (argv: string[]) => boolean;
  reply: Reply;
  times: number;
  /** Runs when the fault answers (another actor changing the state meanwhile). */
  effect: (() => void) | undefined;
}

/**
 * A stand-in for the kernel's loop and device-mapper state, answering losetup, blockdev and
 * dmsetup with the real tools' wording (dm-outputs.ts), for machines without the dm driver.
 * `cp` runs for real on the test's temp files; `dd` of a dm device writes a sparse image of
 * the origin's size (there is no device to read). Faults inject busy and other answers.
 */
export class DmHostModel {
  readonly loops = new Map<string, Loop>();
  readonly devices = new Map<string, DmDevice>();
  readonly runner: RecordingRunner;
  readonly #faults: Fault[] = [];

  constructor() {
    this.runner = new RecordingRunner((call) => this.#answer(call));
  }

  /** The next `times` calls whose argv starts with `prefix` answer `reply` (running `effect`). */
  fail(prefix: readonly string[], reply: Reply, times = 1, effect?: () => void): void {
    this.#faults.push({ when: (argv) => prefix.every((word, i) => argv[i] === word), reply, times, effect });
  }

  /** Puts a loop device in place as if attached before (a previous worker, a crash). */
  attach(backFile: string, ro: boolean): string {
    const device = this.#freeDevice();
    this.loops.set(device, { backFile, ro, autoclear: false });
    return device;
  }

  /** dm devices whose table names `device`: what /sys/block/loopN/holders would list. */
  holders(device: string): string[] {
    return [...this.devices].filter(([, dm]) => dm.table.split(' ').includes(device)).map(([name]) => name);
  }

  /** Puts a dm device in place as if created before. */
  addDevice(name: string, device: Partial<DmDevice> & { table: string }): void {
    this.devices.set(name, { state: 'ACTIVE', live: true, openCount: 0, ...device });
  }

  async #answer(call: RecordedCall): Promise<Reply> {
    const argv = [call.file, ...call.args];
    const fault = this.#faults.find((f) => f.times > 0 && f.when(argv));
    if (fault !== undefined) {
      fault.times -= 1;
      fault.effect?.();
      return fault.reply;
    }
    switch (call.file) {
      case 'losetup':
        return this.#losetup(call.args);
      case 'blockdev':
        return this.#blockdev(call.args);
      case 'dmsetup':
        return this.#dmsetup(call.args);
      case 'cp': {
        const result = await execa('cp', call.args, { reject: false });
        return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? 1 };
      }
      case 'dd':
        return this.#dd(call.args);
      default:
        return { exitCode: 127, stderr: `${call.file}: command not found` };
    }
  }

  #freeDevice(): string {
    for (let n = 0; ; n++) if (!this.loops.has(`/dev/loop${n}`)) return `/dev/loop${n}`;
  }

  #entries(filter: (loop: Loop) => boolean): LoopEntry[] {
    return [...this.loops]
      .filter(([, loop]) => filter(loop))
      .map(([name, loop]) => ({ name, majMin: `7:${name.slice('/dev/loop'.length)}`, ...loop }));
  }

  async #losetup(args: string[]): Promise<Reply> {
    const last = args.at(-1) ?? '';
    if (args[0] === '--json' && args.includes('--associated')) {
      return { stdout: losetupJson(this.#entries((loop) => loop.backFile === last)) };
    }
    if (args[0] === '--json' && args.includes('--output')) {
      return {
        stdout: losetupJson(
          this.#entries(() => true),
          { majMin: true },
        ),
      };
    }
    if (args.includes('--find') && args.includes('--show')) {
      try {
        await stat(last);
      } catch {
        return {
          exitCode: 1,
          stderr: `losetup: ${last}: failed to set up loop device: No such file or directory`,
        };
      }
      return { stdout: this.attach(last, args.includes('--read-only')) };
    }
    if (args[0] === '-d') {
      if (!this.loops.delete(last)) return loopDetachAbsent(last);
      return {};
    }
    return { exitCode: 1, stderr: `model: unhandled losetup ${args.join(' ')}` };
  }

  async #blockdev(args: string[]): Promise<Reply> {
    const loop = this.loops.get(args.at(-1) ?? '');
    if (args[0] !== '--getsize64' || loop === undefined) {
      return { exitCode: 1, stderr: `blockdev: cannot open ${args.at(-1)}: No such file or directory` };
    }
    return { stdout: String((await stat(loop.backFile)).size) };
  }

  async #dd(args: string[]): Promise<Reply> {
    const value = (key: string) => args.find((arg) => arg.startsWith(`${key}=`))?.slice(key.length + 1) ?? '';
    const device = this.devices.get(value('if').replace('/dev/mapper/', ''));
    const origin = /snapshot (\S+)/.exec(device?.table ?? '')?.[1];
    const loop = origin === undefined ? undefined : this.loops.get(origin);
    if (loop === undefined)
      return { exitCode: 1, stderr: `dd: failed to open '${value('if')}': No such file or directory` };
    await writeFile(value('of'), 'flattened');
    await truncate(value('of'), (await stat(loop.backFile)).size);
    return {};
  }

  #dmsetup(args: string[]): Reply {
    const [op, name = ''] = args;
    const device = this.devices.get(name);
    switch (op) {
      case 'info':
        return device === undefined ? DM_INFO_ABSENT : { stdout: dmInfo(name, device) };
      case 'table':
        // dmsetup prints devices back as major:minor.
        return device === undefined
          ? DM_INFO_ABSENT
          : { stdout: device.table.replace(/\/dev\/loop(\d+)/g, (_, n: string) => `7:${n}`) };
      case 'status': {
        const sectors = /^0 (\d+)/.exec(device?.table ?? '')?.[1];
        return device === undefined ? DM_INFO_ABSENT : { stdout: `0 ${sectors} snapshot 16/${sectors} 16` };
      }
      case 'create': {
        if (device !== undefined) return dmBusy('create', name);
        const table = args[3] ?? '';
        const used = [...table.matchAll(/\/dev\/loop\d+/g)].map((m) => m[0]);
        if (args[2] !== '--table' || used.some((loop) => !this.loops.has(loop))) {
          return {
            exitCode: 1,
            stderr: `device-mapper: reload ioctl on ${name}  failed: No such device or address`,
          };
        }
        this.addDevice(name, { table });
        return {};
      }
      case 'remove':
        if (device === undefined) return dmRemoveAbsent(name);
        if (device.openCount > 0) return dmBusy('remove', name);
        this.devices.delete(name);
        return {};
      case 'suspend':
      case 'resume':
        if (device === undefined) return DM_INFO_ABSENT;
        device.state = op === 'suspend' ? 'SUSPENDED' : 'ACTIVE';
        return {};
      case 'ls':
        return { stdout: dmList([...this.devices.keys()]) };
      default:
        return { exitCode: 1, stderr: `model: unhandled dmsetup ${args.join(' ')}` };
    }
  }
}
