import { Presets, SingleBar } from 'cli-progress';
import { z } from 'zod';
import type { HangarClient, SandboxSelector } from '../../producer/hangar-client.ts';
import { type BatchOptions, snapshotBatch } from '../../producer/snapshot-batch.ts';
import { formatBytes, formatTable } from './output.ts';

/** What a finished batch reports (the batch worker's result). */
export const BatchResult = z.object({
  batchId: z.string(),
  total: z.number(),
  snapshots: z.array(
    z.looseObject({
      jobId: z.string(),
      sandboxId: z.string().optional(),
      snapshotId: z.string().optional(),
      memoryBytes: z.number().optional(),
      diskBytes: z.number().optional(),
    }),
  ),
  failures: z.array(z.object({ jobId: z.string(), reason: z.unknown() })),
});
export type BatchResult = z.infer<typeof BatchResult>;

/** How progress is shown: a bar (on a terminal) or a plain line per `batch.progress` event. */
export interface BatchProgressOutput {
  print(line: string): void;
  bar: boolean;
}

/**
 * Runs a batch snapshot and shows its progress from `batch.progress` events (read from the
 * position before the batch was enqueued, so none is missed), then returns the batch result.
 */
export async function runSnapshotBatch(
  client: HangarClient,
  target: readonly string[] | SandboxSelector,
  options: BatchOptions,
  output: BatchProgressOutput,
  timeoutMs = 600_000,
): Promise<BatchResult> {
  const from = await client.latestEventPosition();
  const batch = await snapshotBatch(client, target, options);
  output.print(`batch ${batch.batchId}: snapshotting ${batch.sandboxIds.length} sandbox(es)`);
  const bar = output.bar
    ? new SingleBar(
        {
          format: 'snapshots [{bar}] {value}/{total} | {failed} failed | {duration_formatted}',
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(batch.sandboxIds.length, 0, { failed: 0 });
  const stop = new AbortController();
  const watching = (async () => {
    for await (const { event } of client.events({ after: from, signal: stop.signal, blockMs: 250 })) {
      if (event.type !== 'batch.progress' || event.batchId !== batch.batchId) continue;
      if (bar !== undefined) bar.update(event.done + event.failed, { failed: event.failed });
      else output.print(`  progress ${event.done + event.failed}/${event.total} (${event.failed} failed)`);
    }
  })().catch(() => undefined);
  try {
    const result = BatchResult.parse(await batch.parent.result(timeoutMs));
    bar?.update(result.snapshots.length + result.failures.length, { failed: result.failures.length });
    return result;
  } finally {
    bar?.stop();
    stop.abort();
    await watching;
  }
}

/** The batch's snapshots and failures as tables. */
export function formatBatchResult(result: BatchResult): string {
  const lines = [
    `batch ${result.batchId}: ${result.snapshots.length} of ${result.total} snapshotted, ${result.failures.length} failed`,
  ];
  if (result.snapshots.length > 0) {
    lines.push(
      formatTable(
        ['sandbox', 'snapshot', 'memory', 'disk'],
        result.snapshots.map((s) => [
          s.sandboxId ?? '-',
          s.snapshotId ?? '-',
          s.memoryBytes === undefined ? '-' : formatBytes(s.memoryBytes),
          s.diskBytes === undefined ? '-' : formatBytes(s.diskBytes),
        ]),
      ),
    );
  }
  if (result.failures.length > 0) {
    lines.push(
      formatTable(
        ['sandbox', 'job', 'reason'],
        result.failures.map((f) => [sandboxOfJob(f.jobId), f.jobId, reasonText(f.reason)]),
      ),
    );
  }
  return lines.join('\n');
}

// Job ids are `<op>-<sandboxId>-<seq>-<8 hex>` (HangarClient.prepareJob).
function sandboxOfJob(jobId: string): string {
  return /^[a-z]+-(.+)-\d+-[0-9a-f]{8}$/.exec(jobId)?.[1] ?? '-';
}

function reasonText(reason: unknown): string {
  return typeof reason === 'string' ? reason : JSON.stringify(reason);
}
