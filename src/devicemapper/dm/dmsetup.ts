import { ValidationError } from '../../errors/index.ts';

/** Prefix of every dm device hangar creates: a sweep only ever touches these. */
export const DM_PREFIX = 'hangar-';

/** The dm name of a sandbox's root disk (the id is checked by the caller). */
export function dmName(sandboxId: string): string {
  return `${DM_PREFIX}${sandboxId}`;
}

/** The block device udev (or dmsetup) makes for a dm name. */
export function dmDevicePath(name: string): string {
  return `/dev/mapper/${name}`;
}

/**
 * stderr of dmsetup when the named device is not there: `info` says "Device does not exist.",
 * a remove ioctl says "No such device or address" (newer libdm: "Device NAME not found").
 * Not "/dev/mapper/control: open failed: No such device": that is a missing driver.
 */
export const DM_ABSENT = /Device does not exist|No such device or address|Device \S+ not found/;

/** argv (after `dmsetup`) of each command hangar runs. */
export const dmsetupArgs = {
  info: (name: string): string[] => ['info', name],
  table: (name: string): string[] => ['table', name],
  status: (name: string): string[] => ['status', name],
  create: (name: string, table: string): string[] => ['create', name, '--table', table],
  remove: (name: string): string[] => ['remove', name],
  suspend: (name: string): string[] => ['suspend', name],
  resume: (name: string): string[] => ['resume', name],
  listSnapshots: (): string[] => ['ls', '--target', 'snapshot'],
};

/** What `dmsetup info NAME` says about an existing device. */
export interface DmInfo {
  name: string;
  /** SUSPENDED while a copy holds its I/O (or after a crash in between). */
  state: 'ACTIVE' | 'SUSPENDED';
  /** Whether a live table is loaded (a half-made device has none). */
  live: boolean;
  /** Openers: a VMM still holding the disk makes a remove fail with "busy". */
  openCount: number;
}

/** Reads `dmsetup info NAME` output. */
export function parseDmInfo(stdout: string): DmInfo {
  const field = (label: string): string | undefined =>
    new RegExp(`^${label}:\\s*(.*)$`, 'm').exec(stdout)?.[1]?.trim();
  const name = field('Name');
  const state = field('State');
  const openCount = Number(field('Open count'));
  if (name === undefined || (state !== 'ACTIVE' && state !== 'SUSPENDED') || !Number.isInteger(openCount)) {
    throw new ValidationError('unreadable dmsetup info output', { stdout });
  }
  const live = /\bLIVE\b/.test(field('Tables present') ?? '');
  return { name, state, live, openCount };
}

/** Device names from `dmsetup ls` ("NAME\t(253:0)" lines, or "No devices found"). */
export function parseDmList(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'No devices found')
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

/** A snapshot target's health from `dmsetup status NAME`. */
export type SnapshotStatus =
  | { state: 'valid'; usedSectors: number; totalSectors: number; metadataSectors: number }
  | { state: 'invalid' | 'overflow' | 'merge-failed' | 'unknown'; raw: string };

/** Reads `dmsetup status NAME` of a snapshot: "0 S snapshot USED/TOTAL META", or Invalid/Overflow. */
export function parseSnapshotStatus(stdout: string): SnapshotStatus {
  const line = stdout.trim();
  const valid = /^0 \d+ snapshot (\d+)\/(\d+) (\d+)$/.exec(line);
  if (valid !== null) {
    return {
      state: 'valid',
      usedSectors: Number(valid[1]),
      totalSectors: Number(valid[2]),
      metadataSectors: Number(valid[3]),
    };
  }
  if (/ snapshot Invalid$/.test(line)) return { state: 'invalid', raw: line };
  if (/ snapshot Overflow$/.test(line)) return { state: 'overflow', raw: line };
  if (/ snapshot Merge failed$/.test(line)) return { state: 'merge-failed', raw: line };
  return { state: 'unknown', raw: line };
}
