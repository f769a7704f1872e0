import { formatBatchResult, runSnapshotBatch } from '../cli/commands/batch-progress.ts';
import { formatBytes, formatTable } from '../cli/commands/output.ts';
import type { HangarClient } from '../producer/hangar-client.ts';
import { DEMO_TEMPLATE_ID } from '../templates/demo-template.ts';

/** Every demo sandbox carries this label (the batch snapshot selects by it). */
export const DEMO_LABELS = { demo: 'yes' };

const JOB_TIMEOUT_MS = 60_000;

/**
 * The demo's tour of the lifecycle: three creates, a pause, a snapshot, a restore as a new
 * sandbox, a resume, a batch snapshot of every running one, and destroying them all. Each
 * step prints its duration; `signal` stops the tour between steps (Ctrl-C).
 */
export async function runTour(
  client: HangarClient,
  print: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const step = async (name: string, run: () => Promise<string | undefined>) => {
    signal.throwIfAborted();
    print(`▶ ${name}`);
    const started = performance.now();
    const detail = await run();
    print(`✓ ${name}: ${(performance.now() - started).toFixed(0)} ms${detail ? ` (${detail})` : ''}`);
  };
  const ids = ['demo-1', 'demo-2', 'demo-3'];
  const create = { template: DEMO_TEMPLATE_ID, vcpus: 1, memoryMib: 256, labels: DEMO_LABELS };

  await step('create three sandboxes', async () => {
    const handles = await Promise.all(ids.map((sandboxId) => client.create({ ...create, sandboxId })));
    const results = await Promise.all(handles.map((handle) => handle.result(JOB_TIMEOUT_MS)));
    return results.map((result) => `${result.sandboxId} at ${result.address}`).join(', ');
  });
  await step('pause demo-1', async () => {
    await (await client.pause('demo-1')).result(JOB_TIMEOUT_MS);
    return undefined;
  });
  await step('snapshot demo-1 (memory, device state and disk together)', async () => {
    const result = await (await client.snapshot('demo-1', { snapshotId: 'demo-1-snap' })).result(
      JOB_TIMEOUT_MS,
    );
    return `demo-1-snap: ${formatBytes(Number(result.memoryBytes ?? 0))} memory and ${formatBytes(Number(result.diskBytes ?? 0))} disk really used`;
  });
  await step('restore demo-1-snap as a new sandbox demo-4', async () => {
    const handle = await client.restore('demo-1-snap', { sandboxId: 'demo-4', labels: DEMO_LABELS });
    const result = await handle.result(JOB_TIMEOUT_MS);
    return `demo-4 ${String(result.state)} at ${String(result.address)}`;
  });
  await step('resume demo-1', async () => {
    await (await client.resume('demo-1')).result(JOB_TIMEOUT_MS);
    return undefined;
  });
  await step('batch snapshot of every running sandbox labelled demo=yes', async () => {
    const result = await runSnapshotBatch(
      client,
      { labels: DEMO_LABELS, state: 'running' },
      { concurrencyPerHost: 2 },
      { print: (line) => print(`  ${line}`), bar: false },
      JOB_TIMEOUT_MS,
    );
    for (const line of formatBatchResult(result).split('\n')) print(`  ${line}`);
    return `${result.snapshots.length} snapshot(s), ${result.failures.length} failure(s)`;
  });
  const sandboxes = await client.list({ labels: DEMO_LABELS });
  print(
    formatTable(
      ['id', 'state', 'address', 'from snapshot'],
      sandboxes.map((r) => [r.sandboxId, r.state, r.address ?? '-', r.fromSnapshot ?? '-']),
    ),
  );
  await step('destroy all demo sandboxes', async () => {
    const live = (await client.list({ labels: DEMO_LABELS })).filter(
      (record) => record.state !== 'destroyed',
    );
    const handles = await Promise.all(live.map((record) => client.destroy(record.sandboxId)));
    await Promise.all(handles.map((handle) => handle.result(JOB_TIMEOUT_MS)));
    return `${handles.length} destroyed`;
  });
}

/** Destroys every sandbox of the demo that is not destroyed yet (cleanup after Ctrl-C or a failure). */
export async function destroyDemoSandboxes(client: HangarClient): Promise<number> {
  const live = (await client.list()).filter((record) => record.state !== 'destroyed');
  const handles = await Promise.all(live.map((record) => client.destroy(record.sandboxId)));
  await Promise.allSettled(handles.map((handle) => handle.result(30_000)));
  return handles.length;
}
