import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { HostLedger } from '../../src/state/host-ledger.ts';

/** Files under a state dir that no live record owns, once every sandbox is destroyed. */
export interface FileLeaks {
  /** run/<sandboxId>: a VMM's socket, pidfile and logs. */
  runDirs: string[];
  /** Anything in the file provider's disks dir (CoW files, copy temps). */
  diskFiles: string[];
  /** Any *.tmp anywhere (an atomic write or a claim that never finished). */
  tmpFiles: string[];
  /** Slot claims not held by the warm pool (`pool:` owners). */
  claims: string[];
  /** Pool claims beyond the pool's size. */
  excessPoolClaims: string[];
  /** Half-written snapshots (`*.partial`). */
  partialSnapshots: string[];
  /** Snapshot directories without a snapshot record in Redis. */
  orphanSnapshots: string[];
  /** Sandboxes the host ledger still lists. */
  ledgerEntries: string[];
}

/** What a state-dir census found: the leaks, the pool's slots, and names it does not know. */
export interface FileCensus {
  leaks: FileLeaks;
  /** Slots claimed by the warm pool (their namespaces and links are not leaks). */
  poolSlots: Set<number>;
  /** Entries the census has no rule for (reported, not counted: a new file kind needs a rule). */
  unrecognized: string[];
}

// What the worker keeps in its state dir for itself: the ledger and the demo template it serves.
const OWN_FILES = new Set(['ledger.json', 'ledger.json.journal', 'demo-template']);
const CLAIM = /^([1-9]\d*)\.claim$/;

/** Reads a state dir after every sandbox was destroyed; `hasSnapshot` says whether a snapshot has a record. */
export async function censusStateDir(
  stateDir: string,
  options: { hasSnapshot: (snapshotId: string) => Promise<boolean>; poolSize: number },
): Promise<FileCensus> {
  const leaks: FileLeaks = {
    runDirs: [],
    diskFiles: [],
    tmpFiles: [],
    claims: [],
    excessPoolClaims: [],
    partialSnapshots: [],
    orphanSnapshots: [],
    ledgerEntries: [],
  };
  const unrecognized: string[] = [];
  const poolSlots = new Set<number>();
  const rel = (path: string) => relative(stateDir, path);

  for (const path of await walk(stateDir)) {
    if (path.endsWith('.tmp')) leaks.tmpFiles.push(rel(path));
  }
  for (const name of await names(join(stateDir, 'run'))) leaks.runDirs.push(`run/${name}`);
  for (const path of await walk(join(stateDir, 'cow'), { filesOnly: true })) {
    if (!path.endsWith('.tmp')) leaks.diskFiles.push(rel(path));
  }
  for (const name of await names(join(stateDir, 'snapshots'))) {
    if (name.endsWith('.partial')) leaks.partialSnapshots.push(`snapshots/${name}`);
    else if (!(await options.hasSnapshot(name))) leaks.orphanSnapshots.push(`snapshots/${name}`);
    else {
      for (const inner of await names(join(stateDir, 'snapshots', name))) {
        if (inner.endsWith('.partial')) leaks.partialSnapshots.push(`snapshots/${name}/${inner}`);
      }
    }
  }
  const pool: number[] = [];
  for (const name of await names(join(stateDir, 'slots'))) {
    const slot = CLAIM.exec(name)?.[1];
    if (slot === undefined) {
      if (!name.endsWith('.tmp')) unrecognized.push(`slots/${name}`);
      continue;
    }
    const owner = await claimOwner(join(stateDir, 'slots', name));
    if (owner?.startsWith('pool:')) pool.push(Number(slot));
    else leaks.claims.push(`slots/${name} (${owner ?? 'unreadable'})`);
  }
  pool.sort((a, b) => a - b);
  for (const [index, slot] of pool.entries()) {
    if (index < options.poolSize) poolSlots.add(slot);
    else leaks.excessPoolClaims.push(`slots/${slot}.claim`);
  }
  leaks.ledgerEntries = await ledgerSandboxes(join(stateDir, 'ledger.json'));
  for (const name of await names(stateDir)) {
    if (
      !OWN_FILES.has(name) &&
      !['run', 'cow', 'snapshots', 'slots'].includes(name) &&
      !name.endsWith('.tmp')
    ) {
      unrecognized.push(name);
    }
  }
  return { leaks, poolSlots, unrecognized };
}

/** How many files a state-dir census counts as leaked. */
export function countFileLeaks(leaks: FileLeaks): number {
  return Object.values(leaks).reduce((sum, list) => sum + list.length, 0);
}

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

// Every path under `dir` (directories too, unless `filesOnly`), depth first.
async function walk(dir: string, options: { filesOnly?: boolean } = {}): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const paths: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (!entry.isDirectory() || options.filesOnly !== true) paths.push(path);
    if (entry.isDirectory()) paths.push(...(await walk(path, options)));
  }
  return paths;
}

async function claimOwner(path: string): Promise<string | undefined> {
  try {
    const owner = (JSON.parse(await readFile(path, 'utf8')) as { owner?: unknown }).owner;
    return typeof owner === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

async function ledgerSandboxes(path: string): Promise<string[]> {
  try {
    const ledger = await HostLedger.read(path);
    return Object.entries(ledger.sandboxes).map(([id, entry]) => `${id} (${entry.state})`);
  } catch {
    return [];
  }
}
