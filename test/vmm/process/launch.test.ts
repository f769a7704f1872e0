import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandError, ValidationError } from '../../../src/errors/index.ts';
import { pollUntil } from '../../../src/util/poll.ts';
import {
  isAlive,
  readCmdline,
  readPidfile,
  readStartTime,
  readStat,
  VmmProcess,
} from '../../../src/vmm/process/index.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';
import { ProcessJanitor, shellStandIn } from './stand-in.ts';

const LAUNCH_MODULE = new URL('../../../src/vmm/process/index.ts', import.meta.url).pathname;

describe('launchDetached with a stand-in process (sh + sleep)', () => {
  let dir: TempDir;
  const janitor = new ProcessJanitor();

  beforeEach(async () => {
    dir = await makeTempDir('hangar-launch-');
  });
  afterEach(async () => {
    janitor.killAll();
    await dir.remove();
  });

  it('starts the process in its own process group and writes a valid pidfile', async () => {
    const spec = shellStandIn(dir.path);
    const proc = await janitor.launch(spec);

    expect(proc.attached).toBe('child');
    expect(proc.isAlive()).toBe(true);
    expect(readStat(proc.pid)?.pgrp).toBe(proc.pid);

    const record = await readPidfile(spec.pidfilePath);
    expect(record).toMatchObject({
      pid: proc.pid,
      argv: spec.argv,
      identity: spec.identity,
      procStartTime: readStartTime(proc.pid),
      outputPath: spec.outputPath,
    });
    expect(new Date(record!.startedAt).getTime()).toBe(proc.startedAt.getTime());
    expect(readCmdline(proc.pid)).toContain(spec.identity);
  });

  it('appends stdout and stderr to the output file', async () => {
    const spec = shellStandIn(dir.path, 'echo to-stdout; echo to-stderr >&2; sleep 60; :');
    await writeFile(spec.outputPath, 'earlier run\n');
    await janitor.launch(spec);
    const output = await pollUntil(
      'both lines in the output file',
      async () => {
        const text = await readFile(spec.outputPath, 'utf8');
        return text.includes('to-stdout') && text.includes('to-stderr') ? text : undefined;
      },
      { timeoutMs: 5_000 },
    );
    expect(output.startsWith('earlier run\n')).toBe(true);
  });

  it('rejects a spec whose identity is not in argv, or with relative paths', async () => {
    const spec = shellStandIn(dir.path);
    await expect(janitor.launch({ ...spec, identity: '/elsewhere.sock' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(janitor.launch({ ...spec, outputPath: 'vmm.out' })).rejects.toBeInstanceOf(ValidationError);
    await expect(janitor.launch({ ...spec, argv: [] })).rejects.toBeInstanceOf(ValidationError);
  });

  it('throws CommandError when the program does not exist', async () => {
    const spec = shellStandIn(dir.path);
    const argv = [join(dir.path, 'no-such-vmm'), spec.identity];
    await expect(janitor.launch({ ...spec, argv })).rejects.toBeInstanceOf(CommandError);
  });

  it('keeps the VMM running after the launching process exits, and finds it again', async () => {
    const spec = shellStandIn(dir.path);
    // A throwaway "worker": launches, prints the pid and ends on its own (nothing holds its event loop).
    const worker = `
      const { launchDetached } = await import(${JSON.stringify(LAUNCH_MODULE)});
      const proc = await launchDetached(${JSON.stringify(spec)});
      console.log(proc.pid);
    `;
    const result = await execa(process.execPath, ['--input-type=module', '-e', worker], { timeout: 20_000 });
    const pid = Number(result.stdout.trim());
    janitor.track(pid);

    expect(isAlive(pid)).toBe(true);
    const found = await VmmProcess.reattach(spec.pidfilePath);
    expect(found?.pid).toBe(pid);
    expect(found?.attached).toBe('reattached');
  });
});
