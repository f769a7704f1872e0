import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTableName } from '../../src/network/index.ts';
import { HostLedger } from '../../src/state/host-ledger.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { startChSim } from '../support/ch-sim.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// One host; between two runs of its worker the machine is left as crashes leave it.
describe('reconcile settles half-done work and sweeps what nobody owns [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['r1'],
      network: { prefix: 'hgrl', octet: 238 },
      worker: { concurrency: 4, poolSize: 1 },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('keeps the host table after a fresh start with no slot owned', async () => {
    const { stdout } = await execa('nft', [
      '-j',
      'list',
      'table',
      'inet',
      hostTableName(fleet.workers[0]!.ctx.network),
    ]);
    const chains = (JSON.parse(stdout).nftables as { chain?: { name: string } }[]).flatMap((item) =>
      item.chain === undefined ? [] : [item.chain.name],
    );
    expect(chains.length).toBeGreaterThanOrEqual(2);
  });

  it('destroy removes the sandbox runtime directory', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    const runDir = fleet.workers[0]!.ctx.paths.runtimeDir(id);
    await access(runDir);
    await (await client.destroy(id)).result();
    await expect(access(runDir)).rejects.toThrow();
  });

  it('after a restart: settles an entry whose job is gone, ends VMMs and removes directories and temp files nobody owns', async () => {
    const { client } = fleet;
    const kept = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    const first = fleet.workers[0]!;
    const { paths } = first.ctx;
    await first.stop();

    // A create whose job no longer exists, left half-built in the ledger.
    const ledger = await HostLedger.open(paths.ledger());
    await ledger.put({
      sandboxId: 'half-built',
      state: 'creating',
      template: 'base',
      vcpus: 1,
      memoryMib: 128,
      labels: {},
      createdAt: new Date().toISOString(),
      jobId: 'create-half-built-1-deadbeef',
    });
    // A VMM whose sandbox no ledger entry names (its pidfile never written), and leftovers.
    const ghostDir = paths.runtimeDir('ghost-vmm');
    await mkdir(ghostDir, { recursive: true });
    const ghost = await startChSim({ dir: ghostDir });
    await mkdir(paths.runtimeDir('ghost-dir'), { recursive: true });
    await mkdir(join(paths.snapshotDir('orphan-snap'), 'vm'), { recursive: true });
    await writeFile(`${paths.ledger()}.0a1b2c3d.tmp`, '{"half":');

    const second = await fleet.startWorker('r1');
    const report = second.reconcileReport!;
    expect(report.settled).toEqual(['half-built']);
    expect(report.killedVmms).toEqual(['ghost-vmm']);
    expect(report.sweptRunDirs.map((dir) => dir.split('/').at(-1)).sort()).toEqual([
      'ghost-dir',
      'ghost-vmm',
    ]);
    expect(report.sweptSnapshots.map((dir) => dir.split('/').at(-1))).toEqual(['orphan-snap']);
    expect(report.sweptTemps).toEqual([`${paths.ledger()}.0a1b2c3d.tmp`]);
    await pollUntil(
      'the ghost VMM to exit',
      async () => ((ghost.child.exitCode ?? ghost.child.signalCode) === null ? undefined : true),
      {
        timeoutMs: 10_000,
      },
    );
    await ghost.stop();
    expect(second.ctx.ledger.get('half-built')).toBeUndefined();
    expect((await client.get('half-built'))?.state).toBe('failed');
    expect(report.reattached).toEqual([kept]);
    expect((await client.get(kept))?.state).toBe('running');
    await (await client.destroy(kept)).result();
  });
});
