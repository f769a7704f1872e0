import { IncompatibleError } from '../errors/index.ts';
import type { HostHeartbeat, SnapshotRecord } from './record-schemas.ts';

/** What decides whether a host can restore a snapshot: its CPU flags and its VMM. */
export interface RestoreHost {
  hostId: string;
  cpuFlags: readonly string[];
  vmmKind: string;
  vmmVersion: string;
}

/**
 * Why the host a heartbeat describes cannot restore `snapshot`, or undefined when it can
 * (or when its heartbeat predates CPU reporting: its worker checks again before restoring).
 */
export function incompatibilityOn(
  snapshot: SnapshotRecord,
  heartbeat: HostHeartbeat,
): IncompatibleError | undefined {
  const host = restoreHostOf(heartbeat);
  return host === undefined ? undefined : incompatibility(snapshot, host);
}

// A host as its heartbeat describes it (undefined when the heartbeat predates CPU reporting).
function restoreHostOf(heartbeat: HostHeartbeat): RestoreHost | undefined {
  if (heartbeat.cpu === undefined || heartbeat.vmmVersion === undefined) return undefined;
  return {
    hostId: heartbeat.hostId,
    cpuFlags: heartbeat.cpu.flags,
    vmmKind: heartbeat.backend.kind,
    vmmVersion: heartbeat.vmmVersion,
  };
}

/** The flags a snapshot needs that a host lacks (empty: compatible). */
export function missingCpuFlags(needed: readonly string[], host: readonly string[]): string[] {
  const have = new Set(host);
  return needed.filter((flag) => !have.has(flag));
}

/**
 * Why `host` cannot restore `snapshot`, or undefined when it can: a snapshot restores only
 * on a host whose CPU has every flag it was taken with and whose VMM is of its kind, no
 * older than the one that wrote it; otherwise the guest would meet instructions or a state
 * format its host lacks. The error names what is missing.
 */
export function incompatibility(snapshot: SnapshotRecord, host: RestoreHost): IncompatibleError | undefined {
  const compat = snapshot.compat;
  if (compat === undefined) return undefined;
  const missing = missingCpuFlags(compat.cpuFlags, host.cpuFlags);
  if (missing.length > 0) {
    return new IncompatibleError(
      `snapshot ${snapshot.snapshotId} cannot be restored on host ${host.hostId}: its CPU lacks ${missing.join(', ')} (taken on ${compat.cpuModel})`,
      { snapshotId: snapshot.snapshotId, hostId: host.hostId, missingFlags: missing },
    );
  }
  if (host.vmmKind !== compat.vmm.kind || compareVersions(host.vmmVersion, compat.vmm.version) < 0) {
    return new IncompatibleError(
      `snapshot ${snapshot.snapshotId} was written by ${compat.vmm.kind} ${compat.vmm.version}; host ${host.hostId} runs ${host.vmmKind} ${host.vmmVersion}`,
      {
        snapshotId: snapshot.snapshotId,
        hostId: host.hostId,
        needs: compat.vmm,
        has: { kind: host.vmmKind, version: host.vmmVersion },
      },
    );
  }
  return undefined;
}

// Numeric parts compared in order ("53.0.0" > "52.1"); anything else compares equal.
function compareVersions(a: string, b: string): number {
  const parts = (version: string) => (/\d+(\.\d+)*/.exec(version)?.[0] ?? '0').split('.').map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let index = 0; index < Math.max(x.length, y.length); index += 1) {
    const difference = (x[index] ?? 0) - (y[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
