import { randomInt } from 'node:crypto';

/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the same sequence of
 * decisions, so a campaign can be repeated. Timing still varies between runs (the kills
 * land at the same planned moments, not on the same instructions).
 */
export class Prng {
  readonly seed: number;
  #state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** `count` distinct elements of `items` (all of them when there are fewer). */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const chosen: T[] = [];
    while (chosen.length < count && pool.length > 0) {
      chosen.push(pool.splice(Math.floor(this.next() * pool.length), 1)[0] as T);
    }
    return chosen;
  }

  /** A choice by weight; undefined when every weight is 0. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T | undefined {
    const total = choices.reduce((sum, [, weight]) => sum + Math.max(0, weight), 0);
    if (total <= 0) return undefined;
    let point = this.next() * total;
    for (const [choice, weight] of choices) {
      point -= Math.max(0, weight);
      if (point < 0) return choice;
    }
    return choices.at(-1)?.[0];
  }

  /**
   * An independent generator for one concern (the workload, the killer), so the number of
   * draws one of them makes does not shift the other's sequence.
   */
  fork(label: string): Prng {
    let hash = this.seed ^ 0x9e3779b9;
    for (const char of label) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
    return new Prng(hash);
  }
}

/** A fresh seed, printed by the campaign so the run can be repeated with --seed. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}
