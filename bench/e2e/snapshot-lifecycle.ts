// The e2e bench's snapshot lifecycle part: deleting a snapshot, and a group snapshot of four
// sandboxes (how long each member stays paused: from its pause to its resume, across the
// barrier and every member's snapshot).
import type { HangarClient } from '../../src/producer/hangar-client.ts';
import type { BenchRow, BenchTable } from '../support/bench-result.ts';
import { summarize } from '../support/stats.ts';
import { BENCH_SHAPE } from './warm-and-fork.ts';

/** What this part measured. */
export interface SnapshotLifecycleFigures {
  rows: BenchRow[];
  table: BenchTable;
}

/** Group snapshots of `members` sandboxes (`rounds` times) and the deletion of each snapshot taken. */
export async function snapshotLifecycle(
  client: HangarClient,
  options: { members: number; rounds: number },
): Promise<SnapshotLifecycleFigures> {
  const ids: string[] = [];
  for (let index = 0; index < options.members; index += 1) {
    ids.push(
      (await (await client.create({ ...BENCH_SHAPE, sandboxId: `bench-g-${index}` })).result(300_000))
        .sandboxId,
    );
  }
  const paused: number[] = [];
  const groupWall: number[] = [];
  const deletes: number[] = [];
  const rows: string[][] = [];
  try {
    for (let round = 0; round < options.rounds; round += 1) {
      const began = performance.now();
      const group = await client.snapshotGroup(ids, { groupId: `bench-group-${round}` });
      const result = await group.result.result(600_000);
      groupWall.push(performance.now() - began);
      for (const member of result.snapshots) {
        paused.push(member.pausedMs);
        rows.push([
          String(round),
          member.sandboxId,
          member.pausedMs.toFixed(0),
          String(member.memoryBytes + member.diskBytes),
        ]);
      }
      for (const member of result.snapshots) {
        const start = performance.now();
        await (await client.deleteSnapshot(member.snapshotId)).result(120_000);
        deletes.push(performance.now() - start);
      }
    }
  } finally {
    for (const id of ids) await (await client.destroy(id)).result(120_000).catch(() => undefined);
  }
  return {
    rows: [
      { label: `group snapshot of ${options.members} (wall)`, ...summarize(groupWall) },
      { label: 'group member paused (pause to resume)', ...summarize(paused) },
      { label: 'snapshot delete', ...summarize(deletes) },
    ],
    table: {
      title: `group snapshots of ${options.members} sandboxes (QEMU TCG, 256 MiB each): every member paused at one barrier`,
      header: ['round', 'member', 'paused ms', 'snapshot bytes'],
      rows,
    },
  };
}
