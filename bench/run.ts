// `npm run bench`: runs every bench module in turn, prints each as a table, and writes the
// figures to bench/results/. To add a bench, write a module exporting `name` and `run()`
// and add it to BENCHES below.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BenchModule, BenchResult } from './support/bench-result.ts';
import { BenchInterrupted } from './support/interrupt.ts';
import { formatResult, headerLine, machineInfo, writeResults } from './support/report.ts';

const BENCHES: BenchModule[] = [
  await import('./network.bench.ts'),
  await import('./control-plane.bench.ts'),
  await import('./e2e.bench.ts'),
  await import('./scale.bench.ts'),
];

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const selected = only.length > 0 ? BENCHES.filter((bench) => only.includes(bench.name)) : BENCHES;
  const machine = machineInfo();
  const startedAt = new Date();
  console.log(headerLine(machine));
  const results: BenchResult[] = [];
  let failed = 0;
  for (const bench of selected) {
    console.log(`\nrunning ${bench.name} ...`);
    try {
      const result = await bench.run();
      results.push(result);
      console.log(formatResult(result));
    } catch (error) {
      if (error instanceof BenchInterrupted) {
        console.error('interrupted: cleaned up; no figures written');
        return 130;
      }
      failed++;
      console.error(`bench ${bench.name} failed:`, error);
    }
  }
  if (results.length === 0) return 1;
  await mkdir(RESULTS_DIR, { recursive: true });
  const written = await writeResults(RESULTS_DIR, { startedAt, machine, results });
  console.log(`\nwrote ${written.join(', ')}`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
