// Slot claims live in host-local files, not in Redis. A slot number names kernel objects
// on this host (netns, veth, addresses), so its claim must live and die with the host's
// own state: it survives a worker restart and a Redis flush, and two worker processes on
// one host serialize through the file system, not through a server they may lose.
//
// A claim is `<dir>/<slot>.claim` holding JSON { owner, pid, claimedAt }. It is created
// exclusively: the record is written and fsynced to a private temp file first, then
// hard-linked to the claim name. link(2) fails with EEXIST exactly like
// open(O_CREAT|O_EXCL), but the claim appears with its full content in one step, so no
// reader ever sees an empty claim and a crash mid-claim leaves only a temp file behind.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, HangarError, IllegalStateError, ValidationError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { type ClaimRecord, checkOwner, errnoOf, readClaimFile } from './claim-record.ts';

export { ClaimOwner, ClaimRecord, poolOwner } from './claim-record.ts';

const CLAIM_NAME = /^([1-9][0-9]*)\.claim$/;
const TEMP_NAME = /\.tmp$/;
// A temp file older than this belongs to a claimant that died mid-claim.
const STALE_TEMP_MS = 60_000;

/** A claim file that could not be read as a ClaimRecord; its slot stays taken until removed. */
export interface CorruptClaim {
  slot: number;
  path: string;
  reason: string;
}

/** Options for SlotClaims; maxSlots defaults to 999 (NetworkConfig's default). */
export interface SlotClaimsOptions {
  /** Directory of claim files, e.g. `<stateDir>/slots`; created on first use. */
  dir: string;
  maxSlots?: number;
  logger?: Logger;
}

/** Host-local, cross-process registry of which owner holds which network slot. */
export class SlotClaims {
  readonly dir: string;
  readonly maxSlots: number;
  readonly #logger: Logger;
  #ready: Promise<void> | undefined;
  // Slots this instance is trying right now: concurrent claims in one process skip
  // each other's candidates instead of all racing for the same lowest number.
  readonly #trying = new Set<number>();

  constructor(options: SlotClaimsOptions) {
    const maxSlots = options.maxSlots ?? 999;
    if (!Number.isInteger(maxSlots) || maxSlots < 1) {
      throw new ValidationError(`invalid maxSlots ${maxSlots}: must be a positive integer`, {
        field: 'maxSlots',
      });
    }
    this.dir = options.dir;
    this.maxSlots = maxSlots;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'slot-claims' });
  }

  /** Claims the lowest free slot in 1..maxSlots (or `prefer` first when free); E_CAPACITY when none is. */
  async claim(owner: string, options: { prefer?: number } = {}): Promise<number> {
    checkOwner(owner);
    if (options.prefer !== undefined) this.#checkSlot(options.prefer);
    await this.#ensureDir();
    const temp = await this.#writeTemp(owner);
    try {
      const taken = new Set((await this.#scanNames()).slots);
      const order = candidates(this.maxSlots, taken, this.#trying, options.prefer);
      for (const slot of order) {
        if (this.#trying.has(slot)) continue;
        this.#trying.add(slot);
        try {
          await link(temp, this.#path(slot));
          return slot;
        } catch (error) {
          if (errnoOf(error) !== 'EEXIST') throw error;
        } finally {
          this.#trying.delete(slot);
        }
      }
    } finally {
      await unlink(temp).catch(() => {});
    }
    throw new HangarError(ErrorCode.Capacity, `no free network slot in 1..${this.maxSlots}`, {
      details: { dir: this.dir, maxSlots: this.maxSlots, owner },
    });
  }

  /** Claims one known slot (a restore); returns quietly when `owner` already holds it. */
  async claimSpecific(slot: number, owner: string): Promise<void> {
    this.#checkSlot(slot);
    checkOwner(owner);
    await this.#ensureDir();
    const temp = await this.#writeTemp(owner);
    try {
      await link(temp, this.#path(slot));
      return;
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    } finally {
      await unlink(temp).catch(() => {});
    }
    const holder = await this.ownerOf(slot);
    if (holder === owner) return;
    throw new IllegalStateError(`slot ${slot} is held by ${holder ?? 'an unreadable claim'}`, {
      slot,
      owner,
      holder,
    });
  }

  /**
   * Hands a slot from one owner to another (pool to sandbox) with an atomic rewrite.
   * Only the holder transfers, so the check-then-write has no competing writer.
   */
  async transfer(slot: number, fromOwner: string, toOwner: string): Promise<void> {
    this.#checkSlot(slot);
    checkOwner(fromOwner);
    checkOwner(toOwner);
    const record = await this.#read(slot);
    if (record?.owner !== fromOwner) {
      throw new IllegalStateError(`cannot transfer slot ${slot}: held by ${record?.owner ?? 'nobody'}`, {
        slot,
        fromOwner,
        toOwner,
        holder: record?.owner,
      });
    }
    const next: ClaimRecord = {
      owner: toOwner,
      pid: process.pid,
      claimedAt: record.claimedAt,
      transferredAt: new Date().toISOString(),
    };
    await writeFileAtomic(this.#path(slot), `${JSON.stringify(next)}\n`);
  }

  /** Frees a slot (absent is fine); with `owner`, refuses when someone else holds it. */
  async release(slot: number, owner?: string): Promise<void> {
    this.#checkSlot(slot);
    if (owner !== undefined) {
      checkOwner(owner);
      const holder = await this.ownerOf(slot);
      if (holder === undefined && !(await exists(this.#path(slot)))) return;
      if (holder !== owner) {
        throw new IllegalStateError(
          `cannot release slot ${slot}: held by ${holder ?? 'an unreadable claim'}`,
          {
            slot,
            owner,
            holder,
          },
        );
      }
    }
    await unlink(this.#path(slot)).catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT') throw error;
    });
  }

  /** The owner holding `slot`, or undefined when it is free or its claim is unreadable. */
  async ownerOf(slot: number): Promise<string | undefined> {
    this.#checkSlot(slot);
    return (await this.#read(slot))?.owner;
  }

  /** Every readable claim by slot; unreadable ones are logged (see scan for the list). */
  async list(): Promise<Map<number, ClaimRecord>> {
    return (await this.scan()).claims;
  }

  /** Every claim, valid and corrupt; also removes temp files left by claimants that died. */
  async scan(): Promise<{ claims: Map<number, ClaimRecord>; corrupt: CorruptClaim[] }> {
    const claims = new Map<number, ClaimRecord>();
    const corrupt: CorruptClaim[] = [];
    const { slots, temps } = await this.#scanNames();
    await Promise.all(temps.map((name) => this.#removeIfStale(name)));
    for (const slot of slots.sort((a, b) => a - b)) {
      const path = this.#path(slot);
      const result = await readClaimFile(path);
      if (result.kind === 'ok') claims.set(slot, result.record);
      else if (result.kind === 'corrupt') {
        corrupt.push({ slot, path, reason: result.reason });
        this.#logger.warn({ slot, path, reason: result.reason }, 'corrupt slot claim (slot stays taken)');
      }
    }
    return { claims, corrupt };
  }

  #path(slot: number): string {
    return join(this.dir, `${slot}.claim`);
  }

  #checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 1 || slot > this.maxSlots) {
      throw new ValidationError(`invalid slot ${slot}: must be an integer in 1..${this.maxSlots}`, {
        field: 'slot',
        value: slot,
      });
    }
  }

  #ensureDir(): Promise<void> {
    this.#ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => {});
    return this.#ready;
  }

  async #writeTemp(owner: string): Promise<string> {
    const record: ClaimRecord = { owner, pid: process.pid, claimedAt: new Date().toISOString() };
    const temp = join(this.dir, `.claim-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(record)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return temp;
  }

  async #read(slot: number): Promise<ClaimRecord | undefined> {
    const result = await readClaimFile(this.#path(slot));
    return result.kind === 'ok' ? result.record : undefined;
  }

  async #scanNames(): Promise<{ slots: number[]; temps: string[] }> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { slots: [], temps: [] };
      throw error;
    }
    const slots: number[] = [];
    const temps: string[] = [];
    for (const name of names) {
      const match = CLAIM_NAME.exec(name);
      if (match) slots.push(Number(match[1]));
      else if (TEMP_NAME.test(name)) temps.push(name);
    }
    return { slots, temps };
  }

  // A temp file names its writer's pid: once that process is gone (killed between temp and
  // link) the file is garbage at once; otherwise only after STALE_TEMP_MS (pids get reused).
  async #removeIfStale(name: string): Promise<void> {
    const path = join(this.dir, name);
    const writer = Number(/^\.claim-(\d+)-/.exec(name)?.[1]);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) return;
    if ((Number.isInteger(writer) && !isAlive(writer)) || Date.now() - info.mtimeMs > STALE_TEMP_MS) {
      await unlink(path).catch(() => {});
    }
  }
}

// Lowest first, free-looking slots before ones another claimant may be trying; taken ones
// last of all, since a listing can be stale the moment it is read.
function* candidates(
  maxSlots: number,
  taken: ReadonlySet<number>,
  trying: ReadonlySet<number>,
  prefer: number | undefined,
): Generator<number> {
  if (prefer !== undefined) yield prefer;
  for (let slot = 1; slot <= maxSlots; slot++) {
    if (slot !== prefer && !taken.has(slot) && !trying.has(slot)) yield slot;
  }
  for (let slot = 1; slot <= maxSlots; slot++) {
    if (slot !== prefer && (taken.has(slot) || trying.has(slot))) yield slot;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) !== 'ESRCH';
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
