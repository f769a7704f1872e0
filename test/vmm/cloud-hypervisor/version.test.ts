import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, ErrorCode } from '../../../src/errors/index.ts';
import {
  assertSupportedChVersion,
  detectChVersion,
  parseChVersion,
  VmmVersionError,
} from '../../../src/vmm/cloud-hypervisor/version.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';

describe('parseChVersion', () => {
  it.each([
    ['cloud-hypervisor v52.0.0', { major: 52, minor: 0, patch: 0, raw: 'v52.0.0' }],
    ['cloud-hypervisor v53.0-246-gabcdef\n', { major: 53, minor: 0, patch: 0, raw: 'v53.0-246-gabcdef' }],
    [
      'cloud-hypervisor v53.0-246-gabcdef-dirty',
      { major: 53, minor: 0, patch: 0, raw: 'v53.0-246-gabcdef-dirty' },
    ],
    ['v53.0.0-hangar-sim', { major: 53, minor: 0, patch: 0, raw: 'v53.0.0-hangar-sim' }],
    ['cloud-hypervisor 49.1.2', { major: 49, minor: 1, patch: 2, raw: '49.1.2' }],
    ['cloud-hypervisor v51.0', { major: 51, minor: 0, patch: 0, raw: 'v51.0' }],
  ])('%j', (output, expected) => {
    expect(parseChVersion(output)).toEqual(expected);
  });

  it('rejects output without a version', () => {
    expect(() => parseChVersion('error: unexpected argument')).toThrow(VmmVersionError);
    expect(() => parseChVersion('')).toThrow(/cannot tell/);
  });
});

describe('assertSupportedChVersion', () => {
  it('accepts v52 and newer, names both versions when older', () => {
    expect(() => assertSupportedChVersion(parseChVersion('cloud-hypervisor v52.0.0'))).not.toThrow();
    expect(() =>
      assertSupportedChVersion(parseChVersion('cloud-hypervisor v53.0-246-gabcdef')),
    ).not.toThrow();
    let error: unknown;
    try {
      assertSupportedChVersion(parseChVersion('cloud-hypervisor v51.9.9'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VmmVersionError);
    expect((error as VmmVersionError).code).toBe(ErrorCode.VmmVersion);
    expect((error as Error).message).toMatch(/v51\.9\.9.*v52\.0/);
  });
});

describe('detectChVersion with fake binaries (shell scripts)', () => {
  let dir: TempDir;
  const fake = async (name: string, body: string) => {
    const path = join(dir.path, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };

  beforeAll(async () => {
    dir = await makeTempDir('hangar-chver-');
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('refuses v51.0', async () => {
    const binary = await fake('ch-51', '[ "$1" = --version ] && echo "cloud-hypervisor v51.0"');
    const version = await detectChVersion([binary]);
    expect(version.raw).toBe('v51.0');
    expect(() => assertSupportedChVersion(version)).toThrow(VmmVersionError);
  });

  it('accepts v53 and passes the binary prefix through (interpreter + script)', async () => {
    const script = await fake('ch-53', '[ "$1" = --version ] && echo "cloud-hypervisor v53.0-246-gabcdef"');
    const version = await detectChVersion(['/bin/sh', script]);
    expect(version).toMatchObject({ major: 53, minor: 0 });
    expect(() => assertSupportedChVersion(version)).not.toThrow();
  });

  it('reports unparsable output as VmmVersionError carrying the output', async () => {
    const binary = await fake('ch-garbage', 'echo "hello there"');
    const error = await detectChVersion([binary]).catch((e) => e);
    expect(error).toBeInstanceOf(VmmVersionError);
    expect(error.message).toContain('hello there');
  });

  it('lets a failing binary surface as CommandError', async () => {
    const binary = await fake('ch-broken', 'echo boom >&2; exit 2');
    await expect(detectChVersion([binary])).rejects.toBeInstanceOf(CommandError);
  });
});
