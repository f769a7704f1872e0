// A backend's own use of hangar, written as an app would: the package's name, its public API
// only. It creates a sandbox, pauses, resumes and snapshots it, restores the snapshot as a
// second sandbox, destroys both, then reads the first one's events back from the stream.
// Prints one JSON line of what it saw. REDIS_URL and HANGAR_KEY_PREFIX name the fleet.
import { HangarClient, HangarError, type SandboxResult, ValidationError } from 'hangar';

const client = await HangarClient.connect({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  keyPrefix: process.env.HANGAR_KEY_PREFIX ?? 'hangar',
});
try {
  const create = await client.create({
    template: 'base',
    vcpus: 1,
    memoryMib: 256,
    labels: { app: 'consumer' },
  });
  // Typed results: the compiler knows a create's result has its address, a snapshot's its sizes.
  const created: SandboxResult = await create.result({ signal: AbortSignal.timeout(30_000) });
  const sandboxId = created.sandboxId;
  const paused = await (await client.pause(sandboxId)).result();
  const resumed = await (await client.resume(sandboxId)).result();
  const snapshot = await (await client.snapshot(sandboxId)).result();
  const snapshotId = snapshot.snapshotId;
  const snapshotBytes: number = snapshot.memoryBytes + snapshot.diskBytes;
  const restore = await client.restore(snapshotId, { labels: { app: 'consumer', from: snapshotId } });
  const restored = await restore.result();
  await (await client.destroy(restore.sandboxId)).result();
  const destroyed = await (await client.destroy(sandboxId)).result();

  // A bad request is refused before anything is queued, with a stable code to branch on.
  let refusal = '';
  try {
    await client.create({ template: 'base', vcpus: 0, memoryMib: 256 });
  } catch (error) {
    if (!(error instanceof ValidationError) || !(error instanceof HangarError)) throw error;
    refusal = error.code;
  }

  const states: string[] = [];
  for await (const { event } of client.events({
    after: '0',
    sandboxId,
    signal: AbortSignal.timeout(30_000),
  })) {
    if (event.type !== 'sandbox.state') continue;
    states.push(event.state);
    if (event.state === 'destroyed') break;
  }

  console.log(
    JSON.stringify({
      node: process.version,
      sandboxId,
      address: created.address,
      results: [created.state, paused.state, resumed.state, restored.state, destroyed.state],
      snapshotId,
      snapshotBytes,
      restoredId: restore.sandboxId,
      refusal,
      states,
    }),
  );
} finally {
  await client.close();
}
