import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

const HANGAR = fileURLToPath(new URL('../../bin/hangar.ts', import.meta.url));

// The CLI as a user runs it (a child process per command) against a real worker fleet:
// real Redis, real netns/nft, file CoW disks; Cloud Hypervisor is the simulator.
describe('hangar CLI commands [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({ hosts: ['cli-h1'], network: { prefix: 'hgcl', octet: 186 } });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  async function hangar(...args: string[]) {
    const result = await execa('node', [HANGAR, ...args, '--prefix', fleet.keyPrefix], {
      reject: false,
      timeout: 60_000,
      env: { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    });
    return { code: result.exitCode, out: String(result.stdout), err: String(result.stderr) };
  }

  it('creates, lists, inspects, pauses, snapshots, restores, resumes and destroys', async () => {
    const created = await hangar(
      'create',
      '--template',
      'base',
      '--memory',
      '256',
      '--label',
      'team=cli',
      '--id',
      'cli-1',
      '--wait',
    );
    expect(created.err).toBe('');
    expect(created.out).toMatch(/^create cli-1: done in \d+ ms .*state=running/);

    const json = await hangar(
      'create',
      '--template',
      'base',
      '--memory',
      '256',
      '--label',
      'team=cli',
      '--id',
      'cli-2',
      '--wait',
      '--json',
    );
    expect(JSON.parse(json.out)).toMatchObject({
      job: { op: 'create', hostId: 'cli-h1' },
      result: { state: 'running' },
    });

    const table = await hangar('ls');
    expect(table.out.split('\n')[0]).toMatch(/^ID\s+HOST\s+STATE\s+ADDRESS\s+TEMPLATE\s+AGE$/);
    expect(table.out).toMatch(/cli-1\s+cli-h1\s+running\s+10\.187\.\d+\.\d+\s+base\s+\d+s/);

    const listed = await hangar('ls', '--label', 'team=cli', '--json');
    expect((JSON.parse(listed.out) as { sandboxId: string }[]).map((r) => r.sandboxId).sort()).toEqual([
      'cli-1',
      'cli-2',
    ]);

    const inspected = JSON.parse((await hangar('inspect', 'cli-1')).out) as Record<string, unknown>;
    expect(inspected).toMatchObject({
      sandboxId: 'cli-1',
      hostId: 'cli-h1',
      state: 'running',
      labels: { team: 'cli' },
    });

    expect((await hangar('pause', 'cli-1', '--wait')).out).toMatch(/^pause cli-1: done/);
    expect((await hangar('snapshot', 'cli-1', '--snapshot-id', 'cli-1-snap', '--wait')).out).toMatch(
      /^snapshot cli-1: done .*snapshotId=cli-1-snap/,
    );
    expect(
      (await hangar('restore', 'cli-1-snap', '--id', 'cli-3', '--label', 'team=cli', '--wait')).out,
    ).toMatch(/^restore cli-3: done/);
    const enqueued = await hangar('resume', 'cli-1');
    expect(enqueued.out).toMatch(/^enqueued resume of cli-1 on host cli-h1 \(job resume-cli-1-/);

    const batch = await hangar('snapshot-batch', '--label', 'team=cli', '--json');
    expect(batch.code, batch.err).toBe(0);
    const result = JSON.parse(batch.out) as { snapshots: { sandboxId: string }[]; failures: unknown[] };
    expect(result.snapshots.map((s) => s.sandboxId).sort()).toEqual(['cli-1', 'cli-2', 'cli-3']);
    expect(result.failures).toEqual([]);

    const snapshotsListed = (await hangar('snapshot', 'ls', '--sandbox', 'cli-1')).out;
    expect(snapshotsListed).toMatch(/cli-1-snap\s+cli-1\s+cli-h1\s/);
    expect((await hangar('snapshot', 'rm', 'cli-1-snap', '--wait')).out).toMatch(
      /^delete-snapshot cli-1: done .*freedBytes=/,
    );
    expect((await hangar('snapshot', 'ls', '--sandbox', 'cli-1')).out).not.toMatch(/cli-1-snap\s/);

    for (const id of ['cli-1', 'cli-2', 'cli-3']) {
      expect((await hangar('destroy', id, '--wait')).out).toMatch(new RegExp(`^destroy ${id}: done`));
    }
    expect((await hangar('ls')).out.trim()).toBe('no sandboxes');
    expect((await hangar('ls', '--all')).out).toMatch(/cli-3\s+cli-h1\s+destroyed/);
  }, 120_000);

  it('prints events with positions, and resumes after a position', async () => {
    const all = (await hangar('events')).out.trim().split('\n');
    expect(all.length).toBeGreaterThan(10);
    expect(all[0]).toMatch(/^\d+-\d+\s+\d\d:\d\d:\d\d\.\d{3}\s+\S+/);
    expect(all.join('\n')).toMatch(/sandbox\.state\s+cli-1\s+creating -> running/);
    const position = all[4]?.split(/\s+/)[0] ?? '';
    const rest = (await hangar('events', '--after', position)).out.trim().split('\n');
    expect(rest).toEqual(all.slice(5));
    const one = (await hangar('events', '--sandbox', 'cli-2', '--json')).out.trim().split('\n');
    expect(
      one.every(
        (line) => (JSON.parse(line) as { event: { sandboxId?: string } }).event.sandboxId === 'cli-2',
      ),
    ).toBe(true);
  });

  it('names the bad flag, and says what is missing', async () => {
    const bad = await hangar('create', '--template', 'base', '--vcpus', '0');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^hangar: E_VALIDATION: invalid create options: --vcpus: /);
    const label = await hangar('ls', '--label', 'no-equals-sign');
    expect(label.err).toMatch(/E_VALIDATION: .*--label.*key=value/);
    const missing = await hangar('inspect', 'no-such-sandbox');
    expect(missing.err).toMatch(/^hangar: E_NOT_FOUND: no sandbox or snapshot no-such-sandbox/);
    const redis = await execa('node', [HANGAR, 'ls', '--redis', 'redis://127.0.0.1:1'], { reject: false });
    expect(String(redis.stderr)).toMatch(
      /^hangar: E_TIMEOUT: Redis at redis:\/\/127\.0\.0\.1:1 did not answer/,
    );
  });
});
