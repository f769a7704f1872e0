// The scale bench's figures as tables: latency rows per cell, then the per-cell table the
// issue asks for (placement, round trips, commands per operation, bytes, idle work, list),
// the commands behind each figure, the live sandbox's bytes by kind, and the batch.
import type { BenchRow, BenchTable } from '../support/bench-result.ts';
import { median, p99, summarize } from '../support/stats.ts';
import { type BatchPhaseFigures, idealBatchMs } from './batch-phase.ts';
import { type CellFigures, PAGE_SIZE } from './cell.ts';
import { type CommandCounts, describeCounts, totalOf } from './redis-counters.ts';

const ms = (samples: number[]) =>
  samples.length === 0 ? '-' : `${median(samples).toFixed(2)} / ${p99(samples).toFixed(2)}`;
const num = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const records = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));

/** Latency rows: one per operation and cell. */
export function cellRows(cells: readonly CellFigures[]): BenchRow[] {
  return cells.flatMap((cell) => {
    const at = `${cell.hosts} hosts, ${records(cell.records)} records`;
    return [
      { label: `placement (create enqueue, no worker), ${at}`, ...summarize(cell.placement) },
      { label: `create round trip (real worker), ${at}`, ...summarize(cell.create) },
      { label: `pause round trip (real worker), ${at}`, ...summarize(cell.pause) },
      { label: `listPage() by label, one page of ${PAGE_SIZE}, ${at}`, ...summarize(cell.listPage) },
      { label: `list() by label, every match, ${at}`, ...summarize(cell.list) },
    ];
  });
}

/** The per-cell table. */
export function cellTable(cells: readonly CellFigures[]): BenchTable {
  return {
    title:
      'per cell (ms: median / p99; cmds: all the server ran per operation, Lua included (sent by the client); 1 real worker, the other hosts registered stand-ins)',
    header: [
      'hosts',
      'records',
      'placement ms',
      'create ms',
      'pause ms',
      'cmds/place',
      'cmds/create',
      'cmds/pause',
      'B/seeded rec',
      'B/live sbx',
      'hb+lost cmds/host/min',
      `page of ${PAGE_SIZE} ms (n)`,
      'list() all ms (n)',
    ],
    rows: cells.map((cell) => [
      String(cell.hosts),
      records(cell.records),
      ms(cell.placement),
      ms(cell.create),
      ms(cell.pause),
      `${num(totalOf(cell.commands.placement))} (${num(cell.clientCommands.placement)})`,
      `${num(totalOf(cell.commands.create))} (${num(cell.clientCommands.create)})`,
      `${num(totalOf(cell.commands.pause))} (${num(cell.clientCommands.pause)})`,
      num(cell.bytesPerSeededRecord, 0),
      num(cell.live.total, 0),
      num(cell.idle.perMinute.heartbeat.all + cell.idle.perMinute.lostHost.all),
      `${ms(cell.listPage)} (${cell.pageReturned})`,
      `${ms(cell.list)} (${cell.listReturned})`,
    ]),
  };
}

/** Each operation's commands: all the server ran (and the top ones), and those clients sent. */
export function commandTable(cells: readonly CellFigures[]): BenchTable {
  const rows: string[][] = [];
  for (const cell of cells) {
    for (const [op, counts] of Object.entries(cell.commands) as [
      keyof CellFigures['commands'],
      CommandCounts,
    ][]) {
      rows.push([
        String(cell.hosts),
        records(cell.records),
        op,
        num(cell.clientCommands[op]),
        describeCounts(counts, 5),
      ]);
    }
  }
  return {
    title:
      'Redis commands per operation: sent by clients (MONITOR; a MULTI or pipeline sends several per round trip) and all the server ran, Lua included (INFO commandstats deltas / N)',
    header: ['hosts', 'records', 'op', 'client cmds', 'all cmds (top commands)'],
    rows,
  };
}

/** Idle loops per host per minute, and a live sandbox's bytes by kind. */
export function idleAndBytesTable(cells: readonly CellFigures[]): BenchTable {
  const kinds = [...new Set(cells.flatMap((cell) => Object.keys(cell.live.byKind)))].sort();
  const loop = (counts: { all: number; client: number }) => `${num(counts.all)} (${num(counts.client)})`;
  return {
    title: `idle worker: commands per minute, all (sent by a client), by loop (MONITOR over ${(cells[0]?.idle.windowMs ?? 0) / 1000} s); one live sandbox's Redis bytes by kind (its own keys and its share of shared ones)`,
    header: [
      'hosts',
      'records',
      'heartbeat',
      'lost-host',
      'BullMQ idle',
      'other',
      'all (commandstats)',
      'jobs',
      ...kinds,
      'total B',
    ],
    rows: cells.map((cell) => [
      String(cell.hosts),
      records(cell.records),
      loop(cell.idle.perMinute.heartbeat),
      loop(cell.idle.perMinute.lostHost),
      loop(cell.idle.perMinute.bullmq),
      loop(cell.idle.perMinute.other),
      num(cell.idle.perMinute.total),
      String(cell.live.jobs),
      ...kinds.map((kind) => num(cell.live.byKind[kind] ?? 0, 0)),
      num(cell.live.total, 0),
    ]),
  };
}

/** The batch table and its notes (ratio to the ideal, how it scales to 1,000). */
export function batchReport(batch: BatchPhaseFigures): {
  table: BenchTable;
  rows: BenchRow[];
  notes: string[];
} {
  const { plan } = batch;
  const single = median(batch.singleSnapshotMs);
  const table: BenchTable = {
    title: `batch snapshot over ${plan.hosts} real workers (in-process stand-in, snapshot latency ${plan.snapshotMs} ms, concurrencyPerHost ${plan.concurrencyPerHost})`,
    header: [
      'sandboxes',
      'per host',
      'wall ms',
      'enqueue ms',
      'ideal ms',
      'wall / ideal',
      'ideal at measured snapshot ms',
      'wall / that',
      'machine CPU busy',
      'node cores',
    ],
    rows: batch.batches.map((b) => {
      const measuredIdeal = Math.ceil(b.size / plan.hosts / plan.concurrencyPerHost) * single;
      return [
        String(b.size),
        b.perHost.join('/'),
        num(b.wallMs, 0),
        num(b.enqueueMs, 0),
        num(b.idealMs, 0),
        `${num(b.wallMs / b.idealMs, 2)}x`,
        num(measuredIdeal, 0),
        `${num(b.wallMs / measuredIdeal, 2)}x`,
        `${num(b.machineBusy * 100, 0)}%`,
        num(b.processCores, 2),
      ];
    }),
  };
  const notes = [
    `batch: ${batch.spread.reduce((a, b) => a + b, 0)} real sandboxes over ${plan.hosts} workers (${batch.spread.join('/')}), created in ${(batch.createMs / 1000).toFixed(1)} s, each with its own real netns and loop-device disk; one snapshot alone takes ${num(single, 1)} ms median (the ${plan.snapshotMs} ms stand-in latency plus the worker's own steps, mostly the CoW disk copy: a sparse copy here, this file system cannot reflink); all ${plan.hosts} workers share this machine's 2 cores and one Node event loop, so wall / ideal measures one machine, not ${plan.hosts} hosts`,
  ];
  const largest = batch.batches.at(-1);
  if (largest !== undefined && largest.size < 1_000) {
    const ideal1000 = idealBatchMs(1_000, plan.hosts, plan.concurrencyPerHost, plan.snapshotMs);
    const fit = linearFit(batch.batches.map((b) => [b.size, b.wallMs]));
    const projected = fit.intercept + fit.slope * 1_000;
    notes.push(
      `a batch of 1,000 was not run: ${largest.size} real sandboxes (a netns and a loop device each) is what fits this 2-core machine's time budget beside the rest. The ideal grows as ceil(n/${plan.hosts}/${plan.concurrencyPerHost}) x ${plan.snapshotMs} ms (${num(ideal1000, 0)} ms at 1,000); the measured wall grows ${num(fit.slope, 1)} ms per sandbox (least squares over ${batch.batches.map((b) => b.size).join(', ')}), so 1,000 would take about ${num(projected, 0)} ms = ${num(projected / ideal1000, 1)}x the ideal on this machine`,
    );
  }
  const rows = batch.batches.map((b) => ({
    label: `batch snapshot of ${b.size} over ${plan.hosts} hosts (wall)`,
    ...summarize([b.wallMs]),
  }));
  rows.push({ label: 'one snapshot alone (stand-in, round trip)', ...summarize(batch.singleSnapshotMs) });
  return { table, rows, notes };
}

/** The figures for the JSON file: command maps as objects. */
export function rawFigures(cells: readonly CellFigures[], batch: BatchPhaseFigures | undefined): unknown {
  return {
    cells: cells.map((cell) => ({
      ...cell,
      commands: Object.fromEntries(
        Object.entries(cell.commands).map(([op, counts]) => [op, Object.fromEntries(counts)]),
      ),
      idle: { ...cell.idle, perSecond: Object.fromEntries(cell.idle.perSecond) },
    })),
    batch,
  };
}

// Least squares through (x, y) points; one point gives a line through the origin.
function linearFit(points: [number, number][]): { slope: number; intercept: number } {
  if (points.length === 1) return { slope: points[0]![1] / points[0]![0], intercept: 0 };
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}
