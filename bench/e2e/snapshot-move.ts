// The e2e bench's move part: a 256 MiB sandbox's snapshot restored on a second worker on
// this machine (its own state dir, network range and transfer port), which fetches it from
// the first over HTTP before restoring. Measured: the restore's wall time against a local
// restore of the same snapshot, and the archive bytes sent against the snapshot's bytes
// really used and its logical size.
import { request } from 'undici';
import type { HangarClient } from '../../src/producer/hangar-client.ts';
import type { HostWorker } from '../../src/workers/host-worker.ts';
import { collectSnapshotGarbage } from '../../src/workers/snapshot-gc.ts';
import type { BenchRow, BenchTable } from '../support/bench-result.ts';
import { summarize } from '../support/stats.ts';
import { BENCH_SHAPE } from './warm-and-fork.ts';

/** What this part measured. */
export interface SnapshotMoveFigures {
  rows: BenchRow[];
  table: BenchTable;
  notes: string[];
}

/**
 * Creates a sandbox on `home` (before the target starts, so placement has one choice), then
 * starts the target and, `rounds` times: snapshots the sandbox, restores it locally, then
 * on the target (a move), and deletes it all again.
 */
export async function snapshotMove(
  client: HangarClient,
  home: HostWorker,
  startTarget: () => Promise<HostWorker>,
  options: { rounds: number },
): Promise<SnapshotMoveFigures> {
  const source = await (await client.create({ ...BENCH_SHAPE, sandboxId: 'bench-mv-src' })).result(300_000);
  const target = await startTarget();
  const local: number[] = [];
  const moved: number[] = [];
  const sentRatio: number[] = [];
  const rows: string[][] = [];
  try {
    for (let round = 0; round < options.rounds; round += 1) {
      // The guest's counter on its disk: the snapshot's disk holds data too.
      await (await request(`http://${source.address}/cgi-bin/counter`)).body.text();
      const snapshotId = `bench-mv-${round}`;
      await (await client.snapshot(source.sandboxId, { snapshotId })).result(300_000);
      const record = (await client.getSnapshot(snapshotId))!;
      let began = performance.now();
      const here = await (await client.restore(snapshotId)).result(300_000);
      local.push(performance.now() - began);
      await (await client.destroy(here.sandboxId)).result(120_000);

      const sentBefore = home.transfer!.bytes.sent;
      began = performance.now();
      const there = await (await client.restore(snapshotId, { hostId: target.config.hostId })).result(
        300_000,
      );
      const wall = performance.now() - began;
      moved.push(wall);
      const sent = home.transfer!.bytes.sent - sentBefore;
      const used = record.memoryBytes + record.diskBytes;
      sentRatio.push(sent / used);
      rows.push([
        String(round),
        wall.toFixed(0),
        String(sent),
        String(used),
        String(record.memoryMib * 1024 * 1024),
        (sent / used).toFixed(3),
      ]);
      await (await client.destroy(there.sandboxId)).result(120_000);
      await (await client.deleteSnapshot(snapshotId)).result(120_000);
      // The target's copy goes at its next collection; run it now.
      await collectSnapshotGarbage(target.ctx);
    }
  } finally {
    await (await client.destroy(source.sandboxId)).result(120_000).catch(() => undefined);
  }
  const movedSummary = summarize(moved);
  const localSummary = summarize(local);
  return {
    rows: [
      { label: 'restore on its own host (local)', ...localSummary },
      { label: 'restore on another host (fetch + restore)', ...movedSummary },
    ],
    table: {
      title:
        'snapshot moves between two workers on this machine (QEMU TCG, 256 MiB guest): archive bytes sent against the bytes the snapshot really uses and the guest memory size',
      header: ['round', 'move+restore ms', 'bytes sent', 'bytes used', 'guest memory bytes', 'sent/used'],
      rows,
    },
    notes: [
      `move of a 256 MiB guest's snapshot: restore elsewhere ${movedSummary.median.toFixed(0)} ms against ${localSummary.median.toFixed(0)} ms locally (median); archive sent/used ${summarize(sentRatio).median.toFixed(3)} (over loopback HTTP)`,
    ],
  };
}
