import { readFile } from 'node:fs/promises';

/** The host CPU a VM's state depends on: a snapshot restores only where every flag it saw exists. */
export interface HostCpu {
  model: string;
  flags: string[];
}

/** Reads the CPU model and flags from /proc/cpuinfo (the first processor's; they match on a host). */
export async function readHostCpu(path = '/proc/cpuinfo'): Promise<HostCpu> {
  const text = await readFile(path, 'utf8');
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {
    model: field('model name') || 'unknown',
    flags: field('flags').split(/\s+/).filter(Boolean).sort(),
  };
}
