import { randomBytes } from 'node:crypto';
import { readlink, stat } from 'node:fs/promises';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors/index.ts';
import { pollUntil } from '../../../src/util/poll.ts';
import {
  inNamespaces,
  inNetns,
  inPrivateMountNs,
  readCmdline,
  readStat,
  terminate,
} from '../../../src/vmm/process/index.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';
import { nodeStandIn, ProcessJanitor } from './stand-in.ts';

const IDLE = 'setInterval(() => {}, 1000);';

describe('namespace wrappers (argv)', () => {
  it('runs a command in a network namespace', () => {
    expect(inNetns(['cloud-hypervisor', '--api-socket', 'path=/s/api.sock'], 'hangar-ns-7')).toEqual([
      'ip',
      'netns',
      'exec',
      'hangar-ns-7',
      'cloud-hypervisor',
      '--api-socket',
      'path=/s/api.sock',
    ]);
  });

  it('runs a command in a private mount namespace', () => {
    expect(inPrivateMountNs(['cloud-hypervisor', '-v'])).toEqual([
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'cloud-hypervisor',
      '-v',
    ]);
  });

  it('nests the private mount namespace inside the netns switch', () => {
    expect(inNamespaces(['ch'], { netns: 'hangar-ns-1', privateMounts: true })).toEqual([
      'ip',
      'netns',
      'exec',
      'hangar-ns-1',
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'ch',
    ]);
    expect(inNamespaces(['ch'], {})).toEqual(['ch']);
  });

  it('rejects unsafe namespace names and empty commands', () => {
    for (const bad of ['', '-ns', 'Hangar', 'ns/../x', 'ns 1', 'a'.repeat(32)]) {
      expect(() => inNetns(['ch'], bad), bad).toThrow(ValidationError);
    }
    expect(() => inNetns([], 'hangar-ns-1')).toThrow(ValidationError);
    expect(() => inPrivateMountNs([])).toThrow(ValidationError);
  });
});

// Both run as root with real kernel namespaces; the stand-in VMM is a node process.
describe('launching into namespaces with a stand-in process (node)', () => {
  const netns = `hangar-test-${randomBytes(4).toString('hex')}`;
  let dir: TempDir;
  const janitor = new ProcessJanitor();

  beforeAll(async () => {
    await execa('ip', ['netns', 'add', netns]);
  });
  afterAll(async () => {
    janitor.killAll();
    await execa('ip', ['netns', 'delete', netns], { reject: false });
  });
  beforeEach(async () => {
    dir = await makeTempDir('hangar-ns-');
  });
  afterEach(async () => {
    janitor.killAll();
    await dir.remove();
  });

  const nsInode = async (path: string) => (await stat(path)).ino;

  it('runs inside the network namespace, with the same pid and its own process group', async () => {
    const spec = nodeStandIn(dir.path, IDLE);
    const proc = await janitor.launch({ ...spec, argv: inNetns(spec.argv, netns) });
    const target = await nsInode(`/run/netns/${netns}`);
    // `ip netns exec` switches, then execs the stand-in in place: same pid, its command line.
    await pollUntil(
      'the stand-in to run in the netns',
      async () => ((await nsInode(`/proc/${proc.pid}/ns/net`)) === target ? true : undefined),
      { timeoutMs: 10_000 },
    );
    await pollUntil(
      'ip to exec the stand-in',
      async () => readCmdline(proc.pid)?.[0] === process.execPath || undefined,
      {
        timeoutMs: 10_000,
      },
    );
    expect(await nsInode('/proc/self/ns/net')).not.toBe(target);
    expect(readStat(proc.pid)?.pgrp).toBe(proc.pid);
    expect(await terminate(proc, { termGraceMs: 2_000, killGraceMs: 2_000 })).toBe('sigterm');
  });

  it('runs in its own mount namespace', async () => {
    const spec = nodeStandIn(dir.path, IDLE);
    const proc = await janitor.launch({ ...spec, argv: inPrivateMountNs(spec.argv) });
    const own = await readlink('/proc/self/ns/mnt');
    await pollUntil(
      'unshare to exec the stand-in',
      async () => readCmdline(proc.pid)?.[0] === process.execPath || undefined,
      { timeoutMs: 10_000 },
    );
    expect(await readlink(`/proc/${proc.pid}/ns/mnt`)).not.toBe(own);
  });

  it('combines both', async () => {
    const spec = nodeStandIn(dir.path, IDLE);
    const proc = await janitor.launch({
      ...spec,
      argv: inNamespaces(spec.argv, { netns, privateMounts: true }),
    });
    await pollUntil(
      'the stand-in to be exec-ed',
      async () => readCmdline(proc.pid)?.[0] === process.execPath || undefined,
      { timeoutMs: 10_000 },
    );
    expect(await nsInode(`/proc/${proc.pid}/ns/net`)).toBe(await nsInode(`/run/netns/${netns}`));
    expect(await readlink(`/proc/${proc.pid}/ns/mnt`)).not.toBe(await readlink('/proc/self/ns/mnt'));
  });
});
