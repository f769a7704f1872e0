import { copyFile, mkdir, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../../src/util/poll.ts';
import {
  CH_ANSWERS,
  CH_SOURCE,
  CH_STATES,
  type ChAnswer,
  type ChState,
  UNCHANGED,
  VM_CONFIG,
} from '../../../src/vmm/simulator/ch-answers/index.ts';
import { SIM_ENDPOINTS } from '../../../src/vmm/simulator/endpoints.ts';
import { type ChSim, rawChCall, startChSim, testVmConfig } from '../../support/ch-sim.ts';
import { reachState, type SilentReceiver } from '../../support/ch-states.ts';

// Every cell of the CH answer table, on simulators driven into the cell's state from fresh:
// the status, the whole error chain (or body), what vm.info says afterwards (or that the
// process exited 0), and the files left behind. A cell that changes nothing (a refusal, or a
// read, that leaves vm.info as it was, with no files given) is asked on one simulator per
// state, one after another, vm.info checked after each; every other cell gets its own.

const SHORT_COMMIT = CH_SOURCE.commit.slice(0, 9);

/** A simulator in one state, taken by one cell at a time. */
interface Stage {
  sim: ChSim;
  work: string;
  receiver: SilentReceiver | undefined;
}

describe(`CH simulator stand-in answers as cloud-hypervisor ${SHORT_COMMIT} does (the CH answer table)`, () => {
  let base: string;
  let snapshotDir: string;
  const shared = new Map<ChState, { stage: Promise<Stage>; turn: Promise<unknown> }>();

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'hangar-ch-answers-'));
    snapshotDir = join(base, 'snapshot');
    await mkdir(snapshotDir);
    const maker = await stage('snapshot-maker', 'paused');
    try {
      const url = JSON.stringify({ destination_url: `file://${snapshotDir}` });
      expect((await rawChCall(maker.sim.socketPath, 'PUT', 'vm.snapshot', url)).status).toBe(204);
    } finally {
      await unstage(maker);
    }
  });

  afterAll(async () => {
    await Promise.allSettled([...shared.values()].map(async ({ stage }) => unstage(await stage)));
    if (base !== undefined) await rm(base, { recursive: true, force: true });
  });

  /** A fresh simulator in `state`, in its own directory under the base. */
  async function stage(name: string, state: ChState): Promise<Stage> {
    const work = join(base, name);
    await mkdir(work, { recursive: true });
    const sim = await startChSim({ dir: work });
    try {
      return { sim, work, receiver: await reachState(sim.socketPath, state, { snapshotDir, workDir: work }) };
    } catch (error) {
      await sim.stop();
      throw error;
    }
  }

  /** Runs `check` on the state's shared simulator once the cells before it are done. */
  function onShared(state: ChState, check: (stage: Stage) => Promise<void>): Promise<void> {
    let entry = shared.get(state);
    if (entry === undefined) {
      entry = { stage: stage(`shared-${state}`, state), turn: Promise.resolve() };
      shared.set(state, entry);
    }
    const { stage: ready } = entry;
    const run = entry.turn.then(async () => check(await ready));
    entry.turn = run.catch(() => undefined);
    return run;
  }

  it('has a cell for every endpoint the simulator serves in every state', () => {
    const missing = Object.keys(SIM_ENDPOINTS).flatMap((endpoint) =>
      (Object.keys(CH_STATES) as ChState[])
        .filter((state) => !CH_ANSWERS.some((c) => c.endpoint === endpoint && c.state === state))
        .map((state) => `${endpoint} in ${state}`),
    );
    expect(missing).toEqual([]);
  });

  it.concurrent.for(CH_ANSWERS.map((cell, index) => [titleOf(cell, index), cell, index] as const))(
    '%s',
    async ([, cell, index]) => {
      if (changesNothing(cell)) {
        await onShared(cell.state, (s) => ask(cell, s));
        return;
      }
      const own = await stage(`cell-${index}`, cell.state);
      try {
        await ask(cell, own);
      } finally {
        await unstage(own);
      }
    },
  );

  /** Makes the cell's request on `on` and checks everything the cell says. */
  async function ask(cell: ChAnswer, on: Stage): Promise<void> {
    const fill = (text: string) => text.replaceAll('{work}', on.work).replaceAll('{snapshot}', snapshotDir);
    await prepare(cell, on.work, snapshotDir);
    const pending = rawChCall(on.sim.socketPath, cell.method, cell.endpoint, bodyOf(cell, fill));
    const peer = cell.peer === undefined ? undefined : await sendFromPeer(fill('{work}/rx.sock'));
    try {
      const answer = await pending;
      expect(answer.status, answer.text).toBe(cell.status);
      if (cell.text !== undefined) expect(answer.text).toBe(cell.text);
      else if (cell.chain !== undefined)
        expect(answer.text === '' ? [] : JSON.parse(answer.text)).toEqual(cell.chain.map(fill));
      else if (cell.reply !== undefined) expect(JSON.parse(answer.text)).toMatchObject(cell.reply);
      else expect(answer.text).toBe('');

      if (cell.after === 'exited') expect(await on.sim.exited).toEqual({ code: 0, signal: null });
      else expect(await vmInfoState(on.sim)).toBe(cell.after);
      for (const path of cell.files ?? []) await expect(stat(join(on.work, path))).resolves.toBeDefined();
      if (peer !== undefined) expect(await peer.exited).toEqual({ code: 0, signal: null });
    } finally {
      await peer?.stop();
    }
  }

  /** A running simulator that sends its VM to `socketPath` once the receiver listens there; the caller stops it. */
  async function sendFromPeer(socketPath: string): Promise<ChSim> {
    await pollUntil(
      `the receiver to listen on ${socketPath}`,
      async () => ((await stat(socketPath).catch(() => undefined))?.isSocket() ? true : undefined),
      { timeoutMs: 10_000 },
    );
    const peer = await stage(`peer-of-${socketPath.split('/').at(-2)}`, 'running');
    const sent = await rawChCall(
      peer.sim.socketPath,
      'PUT',
      'vm.send-migration',
      JSON.stringify({ destination_url: `unix:${socketPath}` }),
    );
    expect(sent.status, sent.text).toBe(204);
    return peer.sim;
  }
});

/** Whether a cell leaves its simulator as it found it: no files, no peer, vm.info unchanged, no exit. */
function changesNothing(cell: ChAnswer): boolean {
  const refusedOrRead = cell.status >= 400 || cell.method === 'GET';
  return refusedOrRead && cell.after === UNCHANGED[cell.state] && !cell.given && !cell.peer && !cell.files;
}

async function unstage(stage: Stage): Promise<void> {
  await stage.receiver?.close();
  await stage.sim.stop();
}

function titleOf(cell: ChAnswer, index: number): string {
  const sent = cell.raw ?? (cell.body === undefined ? '' : JSON.stringify(cell.body));
  const copy = cell.given?.snapshotCopy;
  const given = [
    ...(cell.given?.paths ?? []),
    ...(copy === undefined ? [] : [`a snapshot copy${copy.without ? ` without ${copy.without}` : ''}`]),
  ];
  const outcome = cell.text ?? cell.chain?.at(-1) ?? (cell.reply === undefined ? '' : 'with a body');
  return [
    `#${index} ${cell.method} ${cell.endpoint} in ${cell.state}`,
    sent === '' ? '' : ` ${sent.length > 60 ? `${sent.slice(0, 57)}...` : sent}`,
    given.length === 0 ? '' : ` given ${given.join(', ')}`,
    ` -> ${cell.status}${outcome === '' ? '' : ` ${outcome.split('\n')[0]}`}`,
  ].join('');
}

function bodyOf(cell: ChAnswer, fill: (text: string) => string): string | undefined {
  if (cell.raw !== undefined) return cell.raw;
  if (cell.body === undefined) return undefined;
  if (cell.body === VM_CONFIG) return JSON.stringify(testVmConfig());
  return fill(JSON.stringify(cell.body));
}

/** The cell's given paths under `work` (a trailing '/' makes a directory, else a 1 MiB sparse file), and its snapshot copy. */
async function prepare(cell: ChAnswer, work: string, snapshotDir: string): Promise<void> {
  for (const path of cell.given?.paths ?? []) {
    if (path.endsWith('/')) await mkdir(join(work, path), { recursive: true });
    else {
      await writeFile(join(work, path), '');
      await truncate(join(work, path), 1024 * 1024);
    }
  }
  const copy = cell.given?.snapshotCopy;
  if (copy === undefined) return;
  await mkdir(join(work, 'snap'));
  for (const name of ['config.json', 'state.json', 'memory-ranges']) {
    if (name !== copy.without) await copyFile(join(snapshotDir, name), join(work, 'snap', name));
  }
}

async function vmInfoState(sim: ChSim): Promise<string> {
  const info = await rawChCall(sim.socketPath, 'GET', 'vm.info');
  if (info.status === 404) return 'no VM';
  expect(info.status, info.text).toBe(200);
  return (JSON.parse(info.text) as { state: string }).state;
}
