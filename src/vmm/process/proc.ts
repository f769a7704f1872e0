import { readFileSync } from 'node:fs';

// These read procfs synchronously on purpose: each read is a few microseconds from the
// kernel, and `isAlive()` must be callable from synchronous getters.

/** The fields of /proc/<pid>/stat hangar needs. */
export interface ProcStat {
  /** R, S, D, Z (zombie), X (dead), ... */
  state: string;
  /** Process group id (field 5). */
  pgrp: number;
  /** Start time in clock ticks since boot (field 22): with the pid, it names one process for good. */
  startTime: number;
}

function isPid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0;
}

/** Reads /proc/<pid>/stat, or undefined when no such process exists. */
export function readStat(pid: number): ProcStat | undefined {
  if (!isPid(pid)) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) is parenthesised and may itself hold spaces and ')': split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const pgrp = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isInteger(pgrp) || !Number.isInteger(startTime)) return undefined;
  return { state, pgrp, startTime };
}

/** Whether `pid` names a running process (a zombie counts as dead: it only awaits reaping). */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The start time (field 22 of /proc/<pid>/stat) of a live process, else undefined. */
export function readStartTime(pid: number): number | undefined {
  const stat = readStat(pid);
  return stat === undefined || stat.state === 'Z' || stat.state === 'X' ? undefined : stat.startTime;
}

/** The argv of a process from /proc/<pid>/cmdline; undefined when gone or a zombie (empty). */
export function readCmdline(pid: number): string[] | undefined {
  if (!isPid(pid)) return undefined;
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  if (raw.length === 0) return undefined;
  const args = raw.split('\0');
  if (args.at(-1) === '') args.pop();
  return args;
}

/** What identifies the process a pidfile was written for. */
export interface ProcessIdentity {
  procStartTime: number;
  /** A string found in the command line, such as the API socket path. */
  identity: string;
}

/**
 * Whether `pid` is still the process a pidfile describes: alive, started at the same
 * tick (defeats pid reuse) and with the identity string in its command line.
 */
export function matchesIdentity(pid: number, record: ProcessIdentity): boolean {
  if (readStartTime(pid) !== record.procStartTime) return false;
  return readCmdline(pid)?.some((arg) => arg.includes(record.identity)) ?? false;
}

// /proc reports start times in USER_HZ ticks, which the kernel fixes at 100 for userspace on
// every architecture hangar runs on (x86-64, arm64).
const USER_HZ = 100;

/** When a process with this start time (ticks since boot) started; undefined if /proc/stat has no btime. */
export function startDateOf(startTime: number): Date | undefined {
  let btime: string | undefined;
  try {
    btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
  return btime === undefined ? undefined : new Date(Number(btime) * 1000 + (startTime * 1000) / USER_HZ);
}
