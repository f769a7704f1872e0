import type { Prng } from './prng.ts';

/**
 * What the workload believes of a sandbox: projected on enqueue, corrected from its record.
 * 'creating' lasts until the create (or restore) is answered: before the worker writes its
 * record, the client refuses every other call on it (E_NOT_FOUND), so none is made.
 */
export type ModelState = 'creating' | 'running' | 'paused' | 'destroyed' | 'gone' | 'broken';

/** One sandbox the workload made, with the calls it has in flight. */
export interface SandboxModel {
  id: string;
  state: ModelState;
  pending: number;
}

/** One workload call: a lifecycle operation and what it acts on. */
export type Action =
  | { op: 'create'; sandboxId: string }
  | { op: 'restore'; sandboxId: string; snapshotId: string }
  | { op: 'pause' | 'resume' | 'destroy'; sandboxId: string }
  | { op: 'snapshot'; sandboxId: string; snapshotId: string }
  | { op: 'batch'; sandboxIds: string[]; batchId: string };

/** The sandboxes an action touches. */
export function sandboxesOf(action: Action): string[] {
  return action.op === 'batch' ? action.sandboxIds : [action.sandboxId];
}

// Weights of the operations tried on a sandbox in each state. Some are deliberately
// redundant (resume a running sandbox) and answer 'already' or a permanent refusal.
const WEIGHTS: Record<'running' | 'paused' | 'broken', [Action['op'], number][]> = {
  running: [
    ['pause', 3],
    ['snapshot', 2],
    ['destroy', 0.6],
    ['resume', 0.2],
  ],
  paused: [
    ['resume', 3],
    ['snapshot', 1.5],
    ['destroy', 0.6],
    ['pause', 0.2],
  ],
  broken: [['destroy', 1]],
};

const PER_SANDBOX_IN_FLIGHT = 2;
const BATCH_CHANCE = 0.07;
const RESTORE_CHANCE = 0.3;

/**
 * The workload's picture of its sandboxes and the random choice of the next call: keep about
 * `target` sandboxes alive, act on idle ones mostly (a second call behind a busy one tests the
 * per-sandbox order), batch-snapshot a few now and then, restore from snapshots taken.
 */
export class WorkloadModel {
  readonly #models = new Map<string, SandboxModel>();
  readonly #snapshots: string[] = [];
  readonly #prng: Prng;
  readonly #target: number;
  readonly #tag: string;
  #counter = 0;

  constructor(options: { prng: Prng; target: number; tag: string }) {
    this.#prng = options.prng;
    this.#target = options.target;
    this.#tag = options.tag;
  }

  /** Every sandbox id the workload ever used. */
  ids(): string[] {
    return [...this.#models.keys()];
  }

  get(id: string): SandboxModel | undefined {
    return this.#models.get(id);
  }

  /** A fresh id: `<letter><tag>-<n>`, short enough that a batch child's snapshot id stays whole. */
  newId(letter: string): string {
    this.#counter += 1;
    return `${letter}${this.#tag}-${this.#counter}`;
  }

  /** How many sandboxes are up (running or paused, as far as the workload knows). */
  up(): number {
    return [...this.#models.values()].filter((m) => m.state === 'running' || m.state === 'paused').length;
  }

  /** Remembers a snapshot that completed, for restores. */
  addSnapshot(snapshotId: string): void {
    if (!this.#snapshots.includes(snapshotId)) this.#snapshots.push(snapshotId);
  }

  /** The next call, or undefined when every sandbox is busy and no new one is wanted. */
  pick(): Action | undefined {
    const live = [...this.#models.values()].filter((m) => m.state !== 'destroyed' && m.state !== 'gone');
    const wantNew =
      live.length < this.#target && this.#prng.chance(live.length < this.#target / 2 ? 0.9 : 0.35);
    if (wantNew) {
      const sandboxId = this.newId('s');
      if (this.#snapshots.length > 0 && this.#prng.chance(RESTORE_CHANCE)) {
        return { op: 'restore', sandboxId, snapshotId: this.#prng.pick(this.#snapshots) };
      }
      return { op: 'create', sandboxId };
    }
    const idle = live.filter((m) => m.pending === 0 && (m.state === 'running' || m.state === 'paused'));
    if (idle.length >= 2 && this.#prng.chance(BATCH_CHANCE)) {
      const chosen = this.#prng.sample(idle, this.#prng.int(2, Math.min(4, idle.length)));
      return { op: 'batch', sandboxIds: chosen.map((m) => m.id), batchId: this.newId('b') };
    }
    const candidates = live.filter((m) => m.pending < PER_SANDBOX_IN_FLIGHT && m.state !== 'creating');
    const target = this.#prng.weighted(candidates.map((m) => [m, m.pending === 0 ? 4 : 1] as const));
    if (target === undefined) return undefined;
    const op = this.#prng.weighted(WEIGHTS[target.state as 'running' | 'paused' | 'broken']);
    if (op === undefined) return undefined;
    if (op === 'snapshot') return { op, sandboxId: target.id, snapshotId: this.newId('n') };
    return { op: op as 'pause' | 'resume' | 'destroy', sandboxId: target.id };
  }

  /** Marks an action's sandboxes busy and projects the state it leads to if it succeeds. */
  begin(action: Action): void {
    if (action.op === 'create' || action.op === 'restore') {
      this.#models.set(action.sandboxId, { id: action.sandboxId, state: 'creating', pending: 0 });
    }
    for (const id of sandboxesOf(action)) {
      const model = this.#models.get(id);
      if (model === undefined) continue;
      model.pending += 1;
      if (action.op === 'pause') model.state = 'paused';
      else if (action.op === 'resume') model.state = 'running';
      else if (action.op === 'destroy') model.state = 'destroyed';
    }
  }

  /** One call on the sandbox finished; true when none is left in flight (time to re-read it). */
  finish(id: string): boolean {
    const model = this.#models.get(id);
    if (model === undefined) return false;
    model.pending = Math.max(0, model.pending - 1);
    return model.pending === 0;
  }

  /** Corrects a sandbox from its fleet record's state (undefined: no record). */
  correct(id: string, recordState: string | undefined): void {
    const model = this.#models.get(id);
    if (model === undefined || model.pending > 0) return;
    if (recordState === 'running' || recordState === 'paused' || recordState === 'destroyed') {
      model.state = recordState;
    } else if (recordState === 'failed' || recordState === undefined) {
      model.state = 'gone';
    } else {
      // crashed, lost, or left mid-way (creating, snapshotting...): all it can take is a destroy.
      model.state = 'broken';
    }
  }
}
