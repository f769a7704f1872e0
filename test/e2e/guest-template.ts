import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TemplateSpec } from '../../src/templates/template-catalog.ts';
import { testGuestBuilt } from '../../src/templates/test-guest.ts';
import { testGuestTemplate as makeTemplate } from '../../src/templates/test-guest-template.ts';

/** Whether QEMU and a built test guest are here; the reason when not. */
export async function qemuAvailable(): Promise<{ ok: boolean; reason: string }> {
  const { exitCode } = await execa('qemu-system-x86_64', ['--version'], { reject: false });
  if (exitCode !== 0)
    return { ok: false, reason: 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' };
  if (!testGuestBuilt()) return { ok: false, reason: 'the test guest is not built (npm run guest:build)' };
  return { ok: true, reason: '' };
}

/** The test guest template with its base disk in a fresh temp dir. */
export async function testGuestTemplate(): Promise<TemplateSpec> {
  return makeTemplate(await mkdtemp(join(tmpdir(), 'hangar-guest-base-')));
}
