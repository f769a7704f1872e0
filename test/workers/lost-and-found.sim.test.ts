import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { type EventRecorder, recordEvents } from '../support/event-recorder.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// Two hosts that beat every 200 ms; one silent for a second after its beat expired is lost.
describe('a lost host is found again, and records Redis lost come back [CH simulator stand-in]', () => {
  let fleet: TestFleet;
  let events: EventRecorder | undefined;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['h1', 'h2'],
      network: { prefix: 'hgq3', octet: 223, halves: true },
      worker: { poolSize: 0, heartbeatMs: 200, lostAfterMs: 1_000, maintenanceMs: 500 },
    });
    events = await recordEvents(fleet.client, '0');
  }, 60_000);

  afterAll(async () => {
    await events?.stop();
    await fleet?.stop();
  }, 60_000);

  const waitFor = <T>(what: string, probe: () => Promise<T | undefined>) =>
    pollUntil(what, probe, { timeoutMs: 15_000, intervalMs: 50 });

  it('marks a stopped host lost, then returns its sandboxes to running when it beats again', async () => {
    const { client } = fleet;
    // Placement takes the host with the most free room: the second create lands on the other host.
    let id: string | undefined;
    for (let i = 0; i < 4 && id === undefined; i += 1) {
      const created = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
      const record = await client.get(String(created.sandboxId));
      if (record?.hostId === 'h2') id = record.sandboxId;
    }
    expect(id).toBeDefined();
    const sandboxId = id!;

    const h2 = fleet.workers.find((worker) => worker.config.hostId === 'h2')!;
    await h2.stop();
    await waitFor('the sandbox on h2 to be lost', async () =>
      (await client.get(sandboxId))?.state === 'lost' ? true : undefined,
    );
    const lost = await events!.next(
      'a host.lost event for h2',
      (event) => event.type === 'host.lost' && event.lostHostId === 'h2',
      15_000,
    );
    expect(lost).toMatchObject({ hostId: 'h1', sandboxes: [sandboxId] });

    await fleet.startWorker('h2');
    await waitFor('the sandbox on h2 to run again', async () =>
      (await client.get(sandboxId))?.state === 'running' ? true : undefined,
    );
    const recovered = await events!.next(
      'a host.recovered event from h2',
      (event) => event.type === 'host.recovered' && event.hostId === 'h2',
      15_000,
    );
    expect(recovered).toMatchObject({ sandboxes: expect.arrayContaining([sandboxId]) });
    expect(await internalsOf(client).store.hosts.isLive('h2')).toBe(true);
  });

  it('republishes a record Redis lost, so destroy of that sandbox completes', async () => {
    const { client } = fleet;
    const onH2 = await client.list({ hostId: 'h2', state: 'running' });
    expect(onH2).toHaveLength(1);
    const sandboxId = onH2[0]!.sandboxId;
    await internalsOf(client).store.redis.del(internalsOf(client).keys.host('h2').sandbox(sandboxId));
    expect(await client.get(sandboxId)).toBeUndefined();

    const back = await waitFor('the record to be republished', () => client.get(sandboxId));
    expect(back).toMatchObject({ sandboxId, hostId: 'h2', state: 'running' });
    expect(await (await client.destroy(sandboxId)).result()).toMatchObject({ state: 'destroyed' });
    for (const record of await client.list({ state: 'running' })) {
      await (await client.destroy(record.sandboxId)).result();
    }
  });
});
