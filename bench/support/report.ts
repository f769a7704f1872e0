import { writeFile } from 'node:fs/promises';
import { cpus, hostname, release } from 'node:os';
import { join } from 'node:path';
import type { BenchComparison, BenchResult, BenchRow, BenchTable } from './bench-result.ts';

/** The machine a run was measured on, printed as the header and stored with the figures. */
export interface MachineInfo {
  hostname: string;
  cpus: number;
  cpuModel: string;
  kernel: string;
  node: string;
}

/** Describes this machine. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    hostname: hostname(),
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    kernel: release(),
    node: process.version,
  };
}

/** The one-line header naming the machine. */
export function headerLine(machine: MachineInfo): string {
  return `hangar bench on ${machine.hostname}: ${machine.cpus} cpu (${machine.cpuModel}), Linux ${machine.kernel}, Node ${machine.node}`;
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '-');

/** A bench result as an aligned text table, then its comparisons and notes. */
export function formatResult(result: BenchResult): string {
  const header = ['operation', 'n', 'median ms', 'p99 ms', 'mean ms', 'min ms', 'max ms'];
  const body = result.rows.map((row) => [
    row.label,
    String(row.n),
    ms(row.median),
    ms(row.p99),
    ms(row.mean),
    ms(row.min),
    ms(row.max),
  ]);
  const out = [`== ${result.name}`, ...alignedTable(header, body)];
  for (const comparison of result.comparisons ?? []) out.push(formatComparison(comparison, result.rows));
  for (const table of result.tables ?? []) out.push(...formatTable(table));
  for (const note of result.notes ?? []) out.push(`note: ${note}`);
  return out.join('\n');
}

// The first column left-aligned, the others right-aligned, a rule under the header.
function alignedTable(header: string[], body: string[][]): string[] {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...body.map((cells) => cells[i]?.length ?? 0)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

function formatTable(table: BenchTable): string[] {
  return ['', `-- ${table.title}`, ...alignedTable(table.header, table.rows)];
}

function formatComparison(comparison: BenchComparison, rows: BenchRow[]): string {
  const fast = rows.find((row) => row.label === comparison.fast);
  const slow = rows.find((row) => row.label === comparison.slow);
  if (!fast || !slow) return `${comparison.label}: (missing rows)`;
  const saving = (a: number, b: number): string =>
    `${ms(b - a)} ms saved (${((1 - a / b) * 100).toFixed(1)}%)`;
  return [
    `${comparison.label}:`,
    `  median ${ms(fast.median)} vs ${ms(slow.median)} ms: ${saving(fast.median, slow.median)}`,
    `  p99    ${ms(fast.p99)} vs ${ms(slow.p99)} ms: ${saving(fast.p99, slow.p99)}`,
  ].join('\n');
}

/** Writes each result to `<name>-<date>.json` and the whole run to latest.json. */
export async function writeResults(
  dir: string,
  run: { startedAt: Date; machine: MachineInfo; results: BenchResult[] },
): Promise<string[]> {
  const stamp = run.startedAt.toISOString().replaceAll(':', '-');
  const written: string[] = [];
  for (const result of run.results) {
    const path = join(dir, `${result.name}-${stamp}.json`);
    const record = { startedAt: run.startedAt.toISOString(), machine: run.machine, ...result };
    await writeFile(path, `${JSON.stringify(record, null, 2)}\n`);
    written.push(path);
  }
  const latest = join(dir, 'latest.json');
  await writeFile(latest, `${JSON.stringify({ ...run, startedAt: run.startedAt.toISOString() }, null, 2)}\n`);
  written.push(latest);
  return written;
}
