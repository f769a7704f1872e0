import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { ChApiClient } from '../../../src/vmm/cloud-hypervisor/api-client.ts';
import { parseRestoreFlag, parseSimArgs } from '../../../src/vmm/simulator/cli-args.ts';
import { CH_SIM_BIN, type ChSim, startChSim, testVmConfig } from '../../support/ch-sim.ts';

const runSim = (args: string[]) =>
  execa(process.execPath, [CH_SIM_BIN, ...args], { reject: false, timeout: 10_000 });

describe('CH simulator stand-in: command line', () => {
  const sims: ChSim[] = [];

  afterEach(async () => {
    // Later sims may share the first one's dir: stop them first.
    await Promise.allSettled(
      sims
        .splice(0)
        .reverse()
        .map((s) => s.stop()),
    );
  });

  it('prints a version line that CH version parsers accept, marked as the simulator', async () => {
    const result = await runSim(['--version']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('cloud-hypervisor v53.0.0-hangar-sim');
    expect(result.stdout).toMatch(/^cloud-hypervisor v(\d+)\.(\d+)\.(\d+)/);
  });

  it.each([
    [['--api-socket', 'path=/tmp/x.sock', '--kernel', '/vmlinux'], /unexpected argument '--kernel'/],
    [['--log-file', '/tmp/x.log'], /--api-socket is required/],
    [['--api-socket', 'relative.sock'], /must be absolute/],
    [['--api-socket', 'path=/tmp/x.sock', '--sim-fault', 'explode-at=vm.boot'], /unknown fault/],
    [['--api-socket', 'path=/tmp/x.sock', '--sim-fault', 'hang-at=vm.nope'], /unknown endpoint/],
    [['--api-socket', 'path=/tmp/x.sock', '--sim-latency', 'boot=soon'], /whole number/],
    [['--api-socket', 'path=/tmp/x.sock', '--restore', 'source_url=/not/a/url'], /source_url/],
    [['--api-socket', 'path=/tmp/x.sock', '--restore', 'source_url=file:///s,resume=maybe'], /resume/],
  ])('exits 2 on a bad command line: %j', async (args, message) => {
    const result = await runSim(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('parses CH flag forms: path= or bare socket, --flag=value, repeated -v, --restore options', () => {
    const args = parseSimArgs(['--api-socket=path=/run/a.sock', '-vv', '-v', '--log-file', '/l'], {});
    expect(args).toMatchObject({ apiSocket: '/run/a.sock', verbosity: 3, logFile: '/l' });
    expect(parseSimArgs(['--api-socket', '/run/b.sock'], {}).apiSocket).toBe('/run/b.sock');
    expect(
      parseRestoreFlag('source_url=file:///snap,prefault=on,memory_restore_mode=copy,resume=true'),
    ).toEqual({
      source_url: 'file:///snap',
      prefault: true,
      memory_restore_mode: 'Copy',
      resume: true,
    });
    expect(parseRestoreFlag('source_url=file:///snap,memory_restore_mode=ondemand').memory_restore_mode).toBe(
      'OnDemand',
    );
    expect(() =>
      parseRestoreFlag('source_url=file:///snap,memory_restore_mode=ondemand,prefault=on'),
    ).toThrow(/prefault/);
    const env = { HANGAR_SIM_LATENCY: 'boot=5,pause=7', HANGAR_SIM_FAULT: 'ignore-sigterm' };
    const fromEnv = parseSimArgs(['--api-socket', '/s'], env);
    expect(fromEnv.latency).toMatchObject({ boot: 5, pause: 7, resume: 0 });
    expect(fromEnv.faults.ignoreSigterm).toBe(true);
    const flagsWin = parseSimArgs(
      ['--api-socket', '/s', '--sim-latency', 'resume=9', '--sim-fault', 'hang-at=vm.boot'],
      env,
    );
    expect(flagsWin.latency).toMatchObject({ boot: 0, resume: 9 });
    expect(flagsWin.faults.ignoreSigterm).toBe(false);
    expect([...flagsWin.faults.hangAt]).toEqual(['vm.boot']);
  });

  it('replaces a stale socket left by a killed process, and refuses one a live process serves', async () => {
    const first = await startChSim();
    sims.push(first);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await startChSim({ dir: first.dir });
    sims.push(second);
    const third = await startChSim({ dir: first.dir, waitReady: false });
    sims.push(third);
    expect((await third.exited).code).toBe(1);
    expect(third.stderr()).toMatch(/in use/);
  });

  it('appends CH-style events to --event-monitor and logs every call to --log-file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-chsim-events-'));
    try {
      const eventsPath = join(dir, 'events.jsonl');
      const started = await startChSim({ dir, args: ['--event-monitor', `path=${eventsPath}`] });
      sims.push(started);
      const api = new ChApiClient(started.socketPath);
      try {
        await api.create(testVmConfig());
        await api.boot();
      } finally {
        await api.close();
      }
      const events = (await readFile(eventsPath, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(events.map((e) => `${e.source}:${e.event}`)).toEqual([
        'vmm:starting',
        'vm:created',
        'vm:booted',
      ]);
      expect(events[0]).toMatchObject({ timestamp: { secs: expect.any(Number), nanos: expect.any(Number) } });
      const log = await started.log();
      expect(log).toMatch(/API PUT vm\.create/);
      expect(log).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z hangar-ch-sim\[\d+\] INFO/m);
    } finally {
      await Promise.allSettled(sims.splice(0).map((s) => s.stop()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
