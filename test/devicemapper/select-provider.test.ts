import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceMapperProvider } from '../../src/devicemapper/dm/provider.ts';
import { FileCowProvider } from '../../src/devicemapper/file/provider.ts';
import { selectRootDiskProvider } from '../../src/devicemapper/select-provider.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';
import { capturingLogger } from './support/disk-io.ts';

describe('selectRootDiskProvider', () => {
  let dir: TempDir;
  let absent: string;
  let present: string;

  beforeAll(async () => {
    dir = await makeTempDir('hangar-select-disk-');
    absent = join(dir.path, 'no-control');
    present = join(dir.path, 'control');
    await writeFile(present, '');
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('auto picks the file provider when the dm control node is absent, and says why', async () => {
    const { logger, lines } = capturingLogger();
    const { provider, reason } = await selectRootDiskProvider({
      kind: 'auto',
      dataDir: join(dir.path, 'auto-file'),
      logger,
      dmControlPath: absent,
    });
    expect(provider).toBeInstanceOf(FileCowProvider);
    expect(provider.kind).toBe('file');
    expect(reason).toMatch(
      /^auto: .*no-control is absent or unusable, so file CoW, (reflinked|sparse) copies/,
    );
    expect(lines.find((line) => line.msg === 'root disk provider selected')).toMatchObject({
      kind: 'file',
      reason,
    });
  });

  it('auto picks device-mapper when the control node exists [control node stand-in: a plain file]', async () => {
    const { provider, reason } = await selectRootDiskProvider({
      dataDir: join(dir.path, 'auto-dm'),
      dmControlPath: present,
    });
    expect(provider).toBeInstanceOf(DeviceMapperProvider);
    expect(provider.kind).toBe('device-mapper');
    expect(reason).toMatch(/^auto: .*control opens, so dm-snapshot/);
  });

  it('takes the configured kind, in the worker call shape', async () => {
    const config = { disk: 'file' as const };
    const { provider, reason } = await selectRootDiskProvider({
      kind: config.disk,
      dataDir: join(dir.path, 'file'),
      logger: capturingLogger().logger,
    });
    expect(provider).toBeInstanceOf(FileCowProvider);
    expect(reason).toMatch(/^configured: file CoW/);
  });

  it('refuses device-mapper on a host without it, and unknown kinds', async () => {
    await expect(
      selectRootDiskProvider({ kind: 'device-mapper', dataDir: dir.path, dmControlPath: absent }),
    ).rejects.toMatchObject({ code: 'E_ILLEGAL_STATE' });
    await expect(
      selectRootDiskProvider({ kind: 'zfs' as 'file', dataDir: dir.path, dmControlPath: absent }),
    ).rejects.toMatchObject({ code: 'E_VALIDATION' });
  });
});
