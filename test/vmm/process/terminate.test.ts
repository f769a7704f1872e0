import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../../src/util/poll.ts';
import { terminate, type VmmExit, VmmProcess } from '../../../src/vmm/process/index.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';
import { groupMembers, nodeStandIn, ProcessJanitor, shellStandIn } from './stand-in.ts';

// Says when its SIGTERM handler is in place, then ignores SIGTERM: only SIGKILL ends it.
const IGNORES_SIGTERM = `
  process.on('SIGTERM', () => console.log('SIGTERM ignored'));
  console.log('handler installed');
  setInterval(() => {}, 1000);
`;

const GRACE = { termGraceMs: 2_000, killGraceMs: 2_000 };

describe('terminate with stand-in processes', () => {
  let dir: TempDir;
  const janitor = new ProcessJanitor();

  beforeEach(async () => {
    dir = await makeTempDir('hangar-terminate-');
  });
  afterEach(async () => {
    janitor.killAll();
    await dir.remove();
  });

  it('ends the whole process group with SIGTERM (sh and its sleep)', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path));
    await pollUntil('the sleep child', async () => (groupMembers(proc.pid).length >= 2 ? true : undefined), {
      timeoutMs: 5_000,
    });
    expect(await terminate(proc, GRACE)).toBe('sigterm');
    expect(proc.isAlive()).toBe(false);
    expect(proc.exitStatus?.signal).toBe('SIGTERM');
    await pollUntil(
      'the group to be gone',
      async () => (groupMembers(proc.pid).length === 0 ? true : undefined),
      {
        timeoutMs: 5_000,
      },
    );
  });

  it('escalates to SIGKILL when SIGTERM is ignored, without a crash report', async () => {
    const spec = nodeStandIn(dir.path, IGNORES_SIGTERM);
    const proc = await janitor.launch(spec);
    await pollUntil(
      'the SIGTERM handler',
      async () => (await proc.logTail()).includes('installed') || undefined,
      {
        timeoutMs: 10_000,
      },
    );
    const reports: VmmExit[] = [];
    proc.onUnexpectedExit((exit) => reports.push(exit));

    expect(await terminate(proc, { termGraceMs: 300, killGraceMs: 2_000 })).toBe('sigkill');
    expect(proc.exitStatus?.signal).toBe('SIGKILL');
    expect(await proc.logTail()).toContain('SIGTERM ignored');
    await sleep(300);
    expect(reports).toEqual([]);
  });

  it('says exited-already for a process that is gone', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path, 'exit 0'));
    expect(await proc.waitForExit(5_000)).toBe(true);
    expect(await terminate(proc, GRACE)).toBe('exited-already');
    expect(proc.signal('SIGTERM')).toBe(false);
  });

  it('terminates a re-attached process (exit seen by polling)', async () => {
    const spec = nodeStandIn(dir.path, IGNORES_SIGTERM);
    await janitor.launch(spec);
    const proc = (await VmmProcess.reattach(spec.pidfilePath))!;
    await pollUntil(
      'the SIGTERM handler',
      async () => (await proc.logTail()).includes('installed') || undefined,
      {
        timeoutMs: 10_000,
      },
    );
    expect(await terminate(proc, { termGraceMs: 300, killGraceMs: 2_000 })).toBe('sigkill');
    expect(proc.isAlive()).toBe(false);
  });

  it('waitForExit answers false while the process runs', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path));
    expect(await proc.waitForExit(100)).toBe(false);
    expect(proc.isAlive()).toBe(true);
  });
});
