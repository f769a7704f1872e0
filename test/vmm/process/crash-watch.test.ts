import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../../src/util/poll.ts';
import { readPidfile, terminate, type VmmExit, VmmProcess } from '../../../src/vmm/process/index.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';
import { nextEvent, ProcessJanitor, shellStandIn } from './stand-in.ts';

// The watcher's promise: a death is reported within one second.
const REPORT_BUDGET_MS = 1_000;

// Until the stand-in has written `line` to its output (a shell under load starts late).
const printed = (outputPath: string, line: string) =>
  pollUntil(
    `'${line}' in ${outputPath}`,
    async () => ((await readFile(outputPath, 'utf8').catch(() => '')).includes(line) ? true : undefined),
    { timeoutMs: 10_000, intervalMs: 20 },
  );

describe('crash watcher with stand-in processes (sh + sleep)', () => {
  let dir: TempDir;
  const janitor = new ProcessJanitor();

  beforeEach(async () => {
    dir = await makeTempDir('hangar-crash-');
  });
  afterEach(async () => {
    janitor.killAll();
    await dir.remove();
  });

  it('reports a SIGKILL of our own child with the signal and the log tail', async () => {
    const spec = shellStandIn(dir.path, 'echo last-words; sleep 60; :');
    const proc = await janitor.launch(spec);
    await printed(spec.outputPath, 'last-words');
    const crash = nextEvent<VmmExit>((cb) => proc.onUnexpectedExit(cb), REPORT_BUDGET_MS);
    process.kill(proc.pid, 'SIGKILL');
    const exit = await crash;
    expect(exit).toMatchObject({ pid: proc.pid, code: null, signal: 'SIGKILL' });
    expect(exit.logTail).toContain('last-words');
    expect(proc.isAlive()).toBe(false);
  });

  it('reports a plain non-zero exit with its code', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path, 'sleep 0.3; echo failing; exit 3'));
    const exit = await nextEvent<VmmExit>((cb) => proc.onUnexpectedExit(cb), 5_000);
    expect(exit).toMatchObject({ code: 3, signal: null });
    expect(exit.logTail).toContain('failing');
  });

  it('does not report an exit we asked for (expectExit, then terminate)', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path));
    const reports: VmmExit[] = [];
    proc.onUnexpectedExit((exit) => reports.push(exit));
    proc.expectExit();
    expect(await terminate(proc, { termGraceMs: 2_000, killGraceMs: 2_000 })).toBe('sigterm');
    await sleep(500);
    expect(reports).toEqual([]);
  });

  it('stops reporting to a listener that unsubscribed', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path));
    const reports: VmmExit[] = [];
    const unsubscribe = proc.onUnexpectedExit((exit) => reports.push(exit));
    const other = nextEvent<VmmExit>((cb) => proc.onUnexpectedExit(cb), REPORT_BUDGET_MS);
    unsubscribe();
    process.kill(proc.pid, 'SIGKILL');
    await other;
    expect(reports).toEqual([]);
  });

  it('re-attaches from the pidfile after the object is forgotten, and reports a kill -9 by polling', async () => {
    const spec = shellStandIn(dir.path, 'echo attached-output; sleep 60; :');
    const { pid } = await janitor.launch(spec); // the VmmProcess object is dropped here
    await printed(spec.outputPath, 'attached-output');

    const found = await VmmProcess.reattach(spec.pidfilePath);
    expect(found).toBeDefined();
    const proc = found!;
    expect(proc).toMatchObject({ pid, attached: 'reattached', identity: spec.identity, argv: spec.argv });
    expect(proc.isAlive()).toBe(true);

    const crash = nextEvent<VmmExit>((cb) => proc.onUnexpectedExit(cb), REPORT_BUDGET_MS);
    process.kill(pid, 'SIGKILL');
    const exit = await crash;
    // Not our child any more (as far as this object knows): the status is unknown.
    expect(exit).toMatchObject({ pid, code: null, signal: null });
    expect(exit.logTail).toContain('attached-output');
  });

  it('refuses a pidfile whose start time does not match (pid reuse) and removes it', async () => {
    const spec = shellStandIn(dir.path);
    const proc = await janitor.launch(spec);
    const record = (await readPidfile(spec.pidfilePath))!;
    await writeFile(spec.pidfilePath, JSON.stringify({ ...record, procStartTime: record.procStartTime + 1 }));

    expect(await VmmProcess.reattach(spec.pidfilePath)).toBeUndefined();
    await expect(readFile(spec.pidfilePath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(proc.isAlive()).toBe(true); // a stale pidfile is dropped, the process left alone
  });

  it('refuses a live pid whose command line lacks the identity', async () => {
    const spec = shellStandIn(dir.path);
    const proc = await janitor.launch(spec);
    const record = (await readPidfile(spec.pidfilePath))!;
    await writeFile(spec.pidfilePath, JSON.stringify({ ...record, identity: '/other/api.sock' }));
    expect(await VmmProcess.reattach(spec.pidfilePath)).toBeUndefined();
    expect(proc.isAlive()).toBe(true);
  });

  it('treats a corrupt or missing pidfile as absent', async () => {
    const spec = shellStandIn(dir.path);
    expect(await VmmProcess.reattach(spec.pidfilePath)).toBeUndefined();
    await writeFile(spec.pidfilePath, '{"pid": "not a number"');
    expect(await VmmProcess.reattach(spec.pidfilePath)).toBeUndefined();
    await writeFile(spec.pidfilePath, JSON.stringify({ pid: 'x' }));
    expect(await VmmProcess.reattach(spec.pidfilePath)).toBeUndefined();
    await expect(readFile(spec.pidfilePath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a pidfile of a process that has ended', async () => {
    const spec = shellStandIn(dir.path, 'exit 0');
    const proc = await janitor.launch(spec);
    expect(await proc.waitForExit(5_000)).toBe(true);
    expect(await VmmProcess.reattach(spec.pidfilePath)).toBeUndefined();
  });
});
