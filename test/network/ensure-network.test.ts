import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, ErrorCode, ValidationError } from '../../src/errors/index.ts';
import { type CommandRunner, defaultRunner } from '../../src/exec/command-runner.ts';
import {
  ensureHostNetwork,
  ensureNetwork,
  NetworkError,
  parseNetworkConfig,
  removeHostNetwork,
  removeNetwork,
  slotLayout,
  sweepNetwork,
} from '../../src/network/index.ts';
import { type HostSnapshot, snapshotHost } from './support/host-state.ts';
import { RecordingRunner } from './support/recording-runner.ts';
import { json, nftTable, verifySlot } from './support/verify-slot.ts';

// Own prefix and ranges: test files run in parallel and sweeps remove what they do not own.
const config = parseNetworkConfig({
  prefix: 'hgta',
  vethRange: '10.212.0.0/16',
  hostRange: '10.211.0.0/16',
  maxSlots: 40,
  egressAllow: ['203.0.113.0/24', '198.51.100.7/32'],
});
const SLOTS = Array.from({ length: 20 }, (_, i) => i + 1);
const EXTRA = [21, 22, 23, 24, 25];

async function cleanup(): Promise<void> {
  await Promise.all([...SLOTS, ...EXTRA].map((slot) => removeNetwork(slot, config).catch(() => undefined)));
  await removeHostNetwork(config).catch(() => undefined);
  await sweepNetwork(config, new Set()).catch(() => undefined);
}

describe('ensureNetwork / removeNetwork (real netns, veth, tap, nftables)', () => {
  let before: HostSnapshot;

  beforeAll(async () => {
    await sweepNetwork(config, new Set());
    before = await snapshotHost(config.prefix);
  });
  afterAll(cleanup);

  it('builds 20 slots concurrently, each exactly as its layout says', async () => {
    await ensureHostNetwork(config);
    const layouts = await Promise.all(SLOTS.map((slot) => ensureNetwork(slot, config)));
    expect(layouts.map((layout) => layout.netns)).toEqual(SLOTS.map((slot) => `hgta-ns-${slot}`));
    expect(layouts[19]).toEqual(slotLayout(20, config));
    await Promise.all(layouts.map((layout) => verifySlot(layout, config)));
  });

  it('holds the host guard and masquerade in its own inet table', async () => {
    const defaults = await json<{ dev?: string }[]>('ip', ['-j', 'route', 'show', 'default']);
    const uplink = defaults.find((route) => route.dev !== undefined)?.dev;
    const table = await nftTable('inet', 'hgta');
    expect(
      table.flatMap((o) => (o.chain ? [o.chain] : [])).map((c) => [c.name, c.type, c.hook, c.prio, c.policy]),
    ).toEqual([
      ['forward', 'filter', 'forward', 0, 'accept'],
      ['input', 'filter', 'input', 0, 'accept'],
      ['postrouting', 'nat', 'postrouting', 100, 'accept'],
    ]);
    const rules = table.flatMap((o) => (o.rule ? [o.rule] : []));
    const iif = { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'hgta-veth-*' } };
    const daddr = (right: unknown) => ({
      match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right },
    });
    expect(rules.map((rule) => [rule.chain, rule.expr])).toEqual([
      [
        'forward',
        [
          { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } },
          { accept: null },
        ],
      ],
      ['forward', [iif, daddr({ prefix: { addr: '203.0.113.0', len: 24 } }), { accept: null }]],
      ['forward', [iif, daddr('198.51.100.7'), { accept: null }]],
      [
        'forward',
        [
          iif,
          { match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'hgta-veth-*' } },
          { drop: null },
        ],
      ],
      [
        'forward',
        [
          iif,
          daddr({
            set: ['10.0.0.0/8', '100.64.0.0/10', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16'].map(
              (cidr) => {
                const [addr, len] = cidr.split('/');
                return { prefix: { addr, len: Number(len) } };
              },
            ),
          }),
          { drop: null },
        ],
      ],
      [
        'input',
        [
          iif,
          { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } },
          { accept: null },
        ],
      ],
      ['input', [iif, { drop: null }]],
      [
        'postrouting',
        [
          {
            match: {
              op: '==',
              left: { payload: { protocol: 'ip', field: 'saddr' } },
              right: { prefix: { addr: '10.212.0.0', len: 16 } },
            },
          },
          uplink === undefined
            ? { match: { op: '!=', left: { meta: { key: 'oifname' } }, right: 'hgta-veth-*' } }
            : { match: { op: '==', left: { meta: { key: 'oifname' } }, right: uplink } },
          { masquerade: null },
        ],
      ],
    ]);
    const forwarding = await execa('sysctl', ['-n', 'net.ipv4.ip_forward']);
    expect(String(forwarding.stdout).trim()).toBe('1');
  });

  it('a second ensure only reads: no mutating command (host and slot)', async () => {
    const recorder = new RecordingRunner();
    await ensureHostNetwork(config, recorder);
    await ensureNetwork(3, config, { runner: recorder });
    expect(recorder.calls.length).toBeGreaterThan(4);
    expect(recorder.mutating()).toEqual([]);
  });

  it('replaces a stray link that holds the slot veth name', async () => {
    const { hostVeth } = slotLayout(24, config);
    // A veth pair left entirely on the host: the name is taken by something that is not ours.
    await execa('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'hgta-stray']);
    const layout = await ensureNetwork(24, config);
    await verifySlot(layout, config);
  });

  it('refuses bad slots before running anything', async () => {
    const recorder = new RecordingRunner();
    for (const slot of [0, 41, 2.5]) {
      await expect(ensureNetwork(slot, config, { runner: recorder })).rejects.toBeInstanceOf(ValidationError);
      await expect(removeNetwork(slot, config, { runner: recorder })).rejects.toBeInstanceOf(ValidationError);
    }
    expect(recorder.calls).toEqual([]);
  });

  it('[fault-injecting runner] names the failed step and keeps the command error as cause', async () => {
    // Aims the TAP creation at `lo`, which the kernel refuses (EBUSY), wherever the command travels.
    const failing: CommandRunner = {
      run: (file, args, options) =>
        defaultRunner.run(
          file,
          args.map((arg, i) => (arg === 'tap0' && args[i - 2] === 'tuntap' ? 'lo' : arg)),
          { ...options, input: options?.input?.replace('tuntap add dev tap0', 'tuntap add dev lo') },
        ),
    };
    const error = await ensureNetwork(25, config, { runner: failing }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).code).toBe(ErrorCode.Command);
    expect((error as NetworkError).details).toEqual({ slot: 25, step: 'tap' });
    expect((error as NetworkError).cause).toBeInstanceOf(CommandError);
    await verifySlot(await ensureNetwork(25, config), config);
  });

  it('removeNetwork tolerates partial and absent state, and being repeated', async () => {
    await execa('ip', ['netns', 'add', slotLayout(21, config).netns]);
    await removeNetwork(21, config);
    await removeNetwork(22, config);
    await ensureNetwork(23, config);
    await removeNetwork(23, config);
    await removeNetwork(23, config);
    const namespaces = await json<{ name: string }[]>('ip', ['-j', 'netns', 'list']);
    expect(namespaces.map((n) => n.name)).not.toEqual(expect.arrayContaining(['hgta-ns-21']));
    expect(namespaces.map((n) => n.name)).not.toEqual(expect.arrayContaining(['hgta-ns-23']));
  });

  it('removing every slot and the host table leaves the host exactly as before', async () => {
    await Promise.all([...SLOTS, 24, 25].map((slot) => removeNetwork(slot, config)));
    expect(await removeHostNetwork(config)).toBe(true);
    expect(await removeHostNetwork(config)).toBe(false);
    expect(await snapshotHost(config.prefix)).toEqual(before);
  });
});
