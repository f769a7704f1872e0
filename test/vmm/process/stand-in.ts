// Shared by the process tests: stand-in "VMM" programs and cleanup of whatever they leave.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type LaunchSpec,
  launchDetached,
  readStat,
  type VmmProcess,
} from '../../../src/vmm/process/index.ts';

/** A stand-in VMM: a shell that prints a marker, then waits on a child `sleep` (a second group member). */
export function shellStandIn(dir: string, script = 'echo stand-in up; sleep 60; :'): LaunchSpec {
  const identity = join(dir, 'api.sock');
  return {
    argv: ['sh', '-c', script, identity],
    outputPath: join(dir, 'vmm.out'),
    pidfilePath: join(dir, 'vmm.pid'),
    identity,
  };
}

/** A stand-in VMM written in JavaScript (node -e), with the identity as its last argument. */
export function nodeStandIn(dir: string, source: string): LaunchSpec {
  const identity = join(dir, 'api.sock');
  return {
    argv: [process.execPath, '-e', source, identity],
    outputPath: join(dir, 'vmm.out'),
    pidfilePath: join(dir, 'vmm.pid'),
    identity,
  };
}

/** Every live process whose process group is `pgid`. */
export function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const stat = readStat(pid);
      return stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z';
    });
}

/** Launches stand-ins and kills their whole process groups afterwards, whatever the test did. */
export class ProcessJanitor {
  readonly #groups = new Set<number>();

  async launch(spec: LaunchSpec): Promise<VmmProcess> {
    const proc = await launchDetached(spec);
    this.#groups.add(proc.pid);
    return proc;
  }

  /** Registers a process group someone else started (a launcher run in a child process). */
  track(pgid: number): void {
    this.#groups.add(pgid);
  }

  killAll(): void {
    for (const pgid of this.#groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.#groups.clear();
  }
}

/** Resolves with the first value `subscribe` delivers, or rejects after `ms`. */
export function nextEvent<T>(subscribe: (cb: (value: T) => void) => () => void, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no event within ${ms} ms`));
    }, ms);
    const unsubscribe = subscribe((value) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    });
  });
}
