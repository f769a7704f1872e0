import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAtomicWriteTemp, removeAtomicWriteTemps, writeFileAtomic } from '../../src/util/atomic-write.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';
import { runKilledAt } from './support/kill-at-fs-call.ts';

const ATOMIC_WRITE = new URL('../../src/util/atomic-write.ts', import.meta.url).pathname;

describe('writeFileAtomic temp files', () => {
  let temp: TempDir;

  beforeEach(async () => {
    temp = await makeTempDir('hangar-atomic-');
  });
  afterEach(async () => {
    await temp.remove();
  });

  it('tells its temp names (<name>.<8 lowercase hex>.tmp) from look-alikes', () => {
    expect(isAtomicWriteTemp('ledger.json.0a1b2c3d.tmp')).toBe(true);
    expect(isAtomicWriteTemp('/state/run/sb-1/vmm.pid.deadbeef.tmp')).toBe(true);
    for (const name of [
      'ledger.json',
      'notes.tmp',
      '.0a1b2c3d.tmp',
      'ledger.json.0a1b2c3.tmp',
      'ledger.json.0a1b2c3d4.tmp',
      'ledger.json.0A1B2C3D.tmp',
      'ledger.json.0a1b2c3d.tmp.bak',
      'ledger.json.0a1b2c3g.tmp',
    ]) {
      expect(isAtomicWriteTemp(name), name).toBe(false);
    }
  });

  it('a writer SIGKILLed before its rename leaves the old file and a temp, which removeAtomicWriteTemps removes', async () => {
    const target = join(temp.path, 'ledger.json');
    await writeFileAtomic(target, 'old\n');
    const run = await runKilledAt(
      'rename',
      /ledger\.json\.[0-9a-f]{8}\.tmp$/,
      `const { writeFileAtomic } = await import(${JSON.stringify(ATOMIC_WRITE)});
       await writeFileAtomic(${JSON.stringify(target)}, 'new\\n');`,
    );
    expect(run.signal).toBe('SIGKILL');
    const left = (await readdir(temp.path)).filter((name) => name !== 'ledger.json');
    expect(left).toHaveLength(1);
    expect(isAtomicWriteTemp(left[0]!)).toBe(true);
    expect(await readFile(join(temp.path, left[0]!), 'utf8')).toBe('new\n');
    expect(await readFile(target, 'utf8')).toBe('old\n');

    // Look-alikes and a temp one directory down stay unless asked to recurse.
    await writeFile(join(temp.path, 'notes.tmp'), '');
    await writeFile(join(temp.path, 'ledger.json.0A1B2C3D.tmp'), '');
    await mkdir(join(temp.path, 'slots'));
    const nested = join(temp.path, 'slots', '7.json.00ff00ff.tmp');
    await writeFile(nested, '');

    expect(await removeAtomicWriteTemps(temp.path)).toEqual([join(temp.path, left[0]!)]);
    expect(await removeAtomicWriteTemps(temp.path, { recursive: true })).toEqual([nested]);
    expect((await readdir(temp.path)).sort()).toEqual([
      'ledger.json',
      'ledger.json.0A1B2C3D.tmp',
      'notes.tmp',
      'slots',
    ]);
    expect(await readdir(join(temp.path, 'slots'))).toEqual([]);
    expect(await removeAtomicWriteTemps(temp.path, { recursive: true })).toEqual([]);
  });

  it('a missing directory has no temps', async () => {
    expect(await removeAtomicWriteTemps(join(temp.path, 'absent'), { recursive: true })).toEqual([]);
  });

  it('a write that fails leaves no temp file behind', async () => {
    // rename() cannot replace a non-empty directory: the write fails after the temp was written.
    const target = join(temp.path, 'busy');
    await mkdir(target);
    await writeFile(join(target, 'inside'), '');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(await readdir(temp.path)).toEqual(['busy']);
  });

  it('creates the file 0600 whatever the umask', async () => {
    const previous = process.umask(0);
    try {
      await writeFileAtomic(join(temp.path, 'state.json'), '{}');
    } finally {
      process.umask(previous);
    }
    expect((await stat(join(temp.path, 'state.json'))).mode & 0o777).toBe(0o600);
  });
});
