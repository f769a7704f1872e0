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

/** A table of figures that are not latency summaries (counts, bytes, ratios), printed as given. */
export interface BenchTable {
  title: string;
  header: string[];
  rows: string[][];
}

/** What one bench module returns; written to bench/results as JSON. */
export interface BenchResult {
  name: string;
  rows: BenchRow[];
  comparisons?: BenchComparison[];
  tables?: BenchTable[];
  /** Free-form facts about the run (sample budget hit, sizes used). */
  notes?: string[];
  /** The raw figures behind the tables, kept in the JSON only. */
  figures?: unknown;
}

/** A bench module: `run` measures and cleans up after itself, even when it fails. */
export interface BenchModule {
  name: string;
  run(): Promise<BenchResult>;
}
