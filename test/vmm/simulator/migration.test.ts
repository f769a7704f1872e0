import { mkdtemp, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../../src/util/poll.ts';
import { type ChSim, rawChCall, startChSim } from '../../support/ch-sim.ts';
import { reachState, type SilentReceiver, silentReceiver } from '../../support/ch-states.ts';

// Migration between two simulators: CH answers send-migration at once and works on in a
// worker, while receive-migration holds the VMM (and so the whole API) until the VM is in.

describe('CH simulator stand-in: send and receive migration', () => {
  const sims: ChSim[] = [];
  const receivers: SilentReceiver[] = [];

  afterEach(async () => {
    await Promise.allSettled(receivers.splice(0).map((r) => r.close()));
    // The first sim owns the temp dir the others share: stop it last.
    await Promise.allSettled(
      sims
        .splice(0)
        .reverse()
        .map((s) => s.stop()),
    );
  });

  async function simIn(state: 'no-vm' | 'running' | 'paused', base?: string): Promise<ChSim> {
    const sim = await startChSim(base === undefined ? {} : { dir: await mkdtemp(join(base, 'sim-')) });
    sims.push(sim);
    await reachState(sim.socketPath, state, { snapshotDir: '', workDir: sim.dir });
    return sim;
  }

  const call = (sim: ChSim, method: string, endpoint: string, body?: unknown) =>
    rawChCall(sim.socketPath, method, endpoint, body === undefined ? undefined : JSON.stringify(body));

  const stateOf = async (sim: ChSim) => JSON.parse((await call(sim, 'GET', 'vm.info')).text).state as string;

  async function listening(path: string): Promise<void> {
    await pollUntil(
      `a receiver on ${path}`,
      async () => ((await stat(path).catch(() => undefined))?.isSocket() ? true : undefined),
      { timeoutMs: 10_000 },
    );
  }

  it('moves a running VM: the receiver answers once it has it, every call after waits, the sender exits 0', async () => {
    const receiver = await simIn('no-vm');
    const sender = await simIn('running', receiver.dir);
    const rx = join(receiver.dir, 'rx.sock');
    const answered: string[] = [];
    const receiving = call(receiver, 'PUT', 'vm.receive-migration', { receiver_url: `unix:${rx}` }).then(
      (a) => {
        answered.push('vm.receive-migration');
        return a;
      },
    );
    await listening(rx);
    const ping = call(receiver, 'GET', 'vmm.ping').then((a) => {
      answered.push('vmm.ping');
      return a;
    });
    const senderConfig = JSON.parse((await call(sender, 'GET', 'vm.info')).text).config;
    expect((await call(sender, 'PUT', 'vm.send-migration', { destination_url: `unix:${rx}` })).status).toBe(
      204,
    );
    expect((await receiving).status).toBe(204);
    expect((await ping).status).toBe(200);
    expect(answered).toEqual(['vm.receive-migration', 'vmm.ping']);
    const info = JSON.parse((await call(receiver, 'GET', 'vm.info')).text);
    expect(info).toMatchObject({ state: 'Running', config: senderConfig });
    expect(await sender.exited).toEqual({ code: 0, signal: null });
  });

  it('moves a paused VM paused', async () => {
    const receiver = await simIn('no-vm');
    const sender = await simIn('paused', receiver.dir);
    const rx = join(receiver.dir, 'rx.sock');
    const receiving = call(receiver, 'PUT', 'vm.receive-migration', { receiver_url: `unix:${rx}` });
    await listening(rx);
    expect((await call(sender, 'PUT', 'vm.send-migration', { destination_url: `unix:${rx}` })).status).toBe(
      204,
    );
    expect((await receiving).status).toBe(204);
    expect(await stateOf(receiver)).toBe('Paused');
    expect(await sender.exited).toEqual({ code: 0, signal: null });
  });

  it('answers "migrating" while the worker holds the VM, and gives it back when the receiver goes away', async () => {
    const sender = await simIn('running');
    const hold = await silentReceiver(join(sender.dir, 'hold.sock'));
    receivers.push(hold);
    expect(
      (await call(sender, 'PUT', 'vm.send-migration', { destination_url: `unix:${hold.path}` })).status,
    ).toBe(204);
    const pause = await call(sender, 'PUT', 'vm.pause');
    expect(pause.status).toBe(500);
    expect(JSON.parse(pause.text).at(-1)).toBe("VM is currently migrating and can't be modified");
    expect(await stateOf(sender)).toBe('Running');
    await hold.close();
    await pollUntil(
      'the sender to take its VM back',
      async () => ((await call(sender, 'PUT', 'vm.pause')).status === 204 ? true : undefined),
      { timeoutMs: 10_000 },
    );
    expect(await stateOf(sender)).toBe('Paused');
  });

  it('keeps the VM when nobody listens at the destination', async () => {
    const sender = await simIn('running');
    const nowhere = join(sender.dir, 'nobody.sock');
    expect(
      (await call(sender, 'PUT', 'vm.send-migration', { destination_url: `unix:${nowhere}` })).status,
    ).toBe(204);
    await pollUntil(
      'the failed migration to give the VM back',
      async () => ((await call(sender, 'PUT', 'vm.pause')).status === 204 ? true : undefined),
      { timeoutMs: 10_000 },
    );
    expect(sender.child.exitCode).toBeNull();
  });
});
