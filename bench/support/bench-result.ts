import type { Summary } from './stats.ts';

/** One measured operation: a label and its latency summary in milliseconds. */
export interface BenchRow extends Summary {
  label: string;
}

/** Two rows printed side by side with what the faster one saves (warm vs cold, say). */
export interface BenchComparison {
  label: string;
  fast: string;
  slow: string;
}

/** What one bench module returns; written to bench/results as JSON. */
export interface BenchResult {
  name: string;
  rows: BenchRow[];
  comparisons?: BenchComparison[];
  /** Free-form facts about the run (sample budget hit, sizes used). */
  notes?: string[];
}

/** A bench module: `run` measures and cleans up after itself, even when it fails. */
export interface BenchModule {
  name: string;
  run(): Promise<BenchResult>;
}
