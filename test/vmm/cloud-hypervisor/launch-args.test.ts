import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors/index.ts';
import { buildChArgs, type ChLaunchArgs } from '../../../src/vmm/cloud-hypervisor/launch-args.ts';
import { inNamespaces, inNetns } from '../../../src/vmm/process/index.ts';

const BASE: ChLaunchArgs = { binary: ['cloud-hypervisor'], apiSocket: '/s/ch.sock', logFile: '/s/ch.log' };
const PLAIN = ['cloud-hypervisor', '--api-socket', 'path=/s/ch.sock', '--log-file', '/s/ch.log'];

describe('buildChArgs (golden argv)', () => {
  it('plain launch', () => {
    expect(buildChArgs(BASE)).toEqual(PLAIN);
  });

  it('verbosity, event monitor and a simulator binary', () => {
    expect(
      buildChArgs({
        ...BASE,
        binary: ['/usr/bin/node', '/repo/bin/hangar-ch-sim.ts'],
        verbosity: 2,
        eventMonitor: '/s/events',
      }),
    ).toEqual([
      '/usr/bin/node',
      '/repo/bin/hangar-ch-sim.ts',
      '--api-socket',
      'path=/s/ch.sock',
      '--log-file',
      '/s/ch.log',
      '-v',
      '-v',
      '--event-monitor',
      'path=/s/events',
    ]);
  });

  it('in a network namespace', () => {
    expect(inNetns(buildChArgs({ ...BASE, verbosity: 1 }), 'hangar-ns-12')).toEqual([
      'ip',
      'netns',
      'exec',
      'hangar-ns-12',
      ...PLAIN,
      '-v',
    ]);
  });

  it('in a network namespace and a private mount namespace', () => {
    expect(inNamespaces(buildChArgs(BASE), { netns: 'hangar-ns-3', privateMounts: true })).toEqual([
      'ip',
      'netns',
      'exec',
      'hangar-ns-3',
      'unshare',
      '--mount',
      '--propagation',
      'private',
      ...PLAIN,
    ]);
  });

  const restores: [ChLaunchArgs['restore'], string][] = [
    [{ sourceDir: '/snap' }, 'source_url=file:///snap'],
    [{ sourceDir: '/snap', resume: true }, 'source_url=file:///snap,resume=true'],
    [{ sourceDir: '/snap', resume: false }, 'source_url=file:///snap,resume=false'],
    [
      { sourceDir: '/snap', memoryRestoreMode: 'ondemand' },
      'source_url=file:///snap,memory_restore_mode=ondemand',
    ],
    [{ sourceDir: '/snap', memoryRestoreMode: 'copy' }, 'source_url=file:///snap,memory_restore_mode=copy'],
    [
      { sourceDir: '/snap', memoryRestoreMode: 'ondemand', resume: true },
      'source_url=file:///snap,memory_restore_mode=ondemand,resume=true',
    ],
    [{ sourceDir: '/snap', prefault: true }, 'source_url=file:///snap,prefault=on'],
    [
      { sourceDir: '/snap', prefault: false, resume: true },
      'source_url=file:///snap,prefault=off,resume=true',
    ],
    [
      { sourceDir: '/snap', prefault: true, memoryRestoreMode: 'copy', resume: true },
      'source_url=file:///snap,prefault=on,memory_restore_mode=copy,resume=true',
    ],
    [
      { sourceDir: '/snap', prefault: false, memoryRestoreMode: 'ondemand', resume: false },
      'source_url=file:///snap,prefault=off,memory_restore_mode=ondemand,resume=false',
    ],
  ];
  it.each(restores)('restore %j', (restore, value) => {
    expect(buildChArgs({ ...BASE, restore })).toEqual([...PLAIN, '--restore', value]);
  });
});

describe('buildChArgs validation', () => {
  const rejects = (opts: ChLaunchArgs, field: string) => {
    const error = (() => {
      try {
        buildChArgs(opts);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details.field).toBe(field);
  };

  it('rejects relative paths', () => {
    rejects({ ...BASE, apiSocket: 's/ch.sock' }, 'apiSocket');
    rejects({ ...BASE, logFile: 'ch.log' }, 'logFile');
    rejects({ ...BASE, eventMonitor: './events' }, 'eventMonitor');
    rejects({ ...BASE, restore: { sourceDir: 'snap' } }, 'restore.sourceDir');
  });

  it('rejects commas in paths (they would split CH options)', () => {
    rejects({ ...BASE, apiSocket: '/s/a,b.sock' }, 'apiSocket');
    rejects({ ...BASE, restore: { sourceDir: '/snap,prefault=on' } }, 'restore.sourceDir');
  });

  it('rejects prefault together with on-demand memory restore', () => {
    rejects(
      { ...BASE, restore: { sourceDir: '/snap', prefault: true, memoryRestoreMode: 'ondemand' } },
      'restore',
    );
  });

  it('rejects a bad verbosity and an empty binary', () => {
    rejects({ ...BASE, verbosity: 4 }, 'verbosity');
    rejects({ ...BASE, verbosity: 1.5 }, 'verbosity');
    rejects({ ...BASE, binary: [] }, 'binary');
  });
});
