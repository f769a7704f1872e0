import { connect, createServer } from 'node:net';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureHostNetwork,
  ensureNetwork,
  GUEST_IP,
  parseNetworkConfig,
  removeHostNetwork,
  removeNetwork,
  type SlotLayout,
  sweepNetwork,
} from '../../src/network/index.ts';
import { type HostSnapshot, snapshotHost } from './support/host-state.ts';
import {
  assertRoutedVia,
  connectFrom,
  connectFromHost,
  type StandIn,
  startServer,
} from './support/traffic.ts';

// Own prefix and ranges. The "peer host" is a namespace this file creates, standing in for a
// private-range machine next to the host; the uplink is its link, so nothing leaves the box.
const PEER = {
  netns: 'hgtb-peer',
  link: 'hgtb-peer',
  ip: '10.215.0.1',
  hostIp: '10.215.0.2',
  cidr: '10.215.0.0/30',
};
const config = parseNetworkConfig({
  prefix: 'hgtb',
  vethRange: '10.214.0.0/16',
  hostRange: '10.213.0.0/16',
  maxSlots: 10,
  uplink: PEER.link,
});
const PORT = 8080;

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args);
}

async function removePeer(): Promise<void> {
  await execa('ip', ['link', 'del', PEER.link], { reject: false });
  await execa('ip', ['netns', 'del', PEER.netns], { reject: false });
}

describe('sandbox traffic through the NAT path [guest stand-in: a server on 169.254.0.21 inside the namespace]', () => {
  let before: HostSnapshot;
  let a: SlotLayout;
  let b: SlotLayout;
  const servers: StandIn[] = [];

  beforeAll(async () => {
    await removePeer();
    await sweepNetwork(config, new Set());
    before = await snapshotHost(config.prefix);
    await ip('netns', 'add', PEER.netns);
    await ip('link', 'add', PEER.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', PEER.netns);
    await ip('addr', 'add', `${PEER.hostIp}/30`, 'dev', PEER.link);
    await ip('link', 'set', PEER.link, 'up');
    await ip('-n', PEER.netns, 'addr', 'add', `${PEER.ip}/30`, 'dev', 'eth0');
    await ip('-n', PEER.netns, 'link', 'set', 'eth0', 'up');
    await ensureHostNetwork(config);
    [a, b] = await Promise.all([ensureNetwork(1, config), ensureNetwork(2, config)]);
    for (const layout of [a, b]) {
      // The guest stand-in: the guest's address on the namespace's loopback (test-only).
      await ip('-n', layout.netns, 'addr', 'add', `${GUEST_IP}/32`, 'dev', 'lo');
    }
    servers.push(
      ...(await Promise.all([
        startServer(a.netns, GUEST_IP, PORT),
        startServer(b.netns, GUEST_IP, PORT),
        startServer(PEER.netns, PEER.ip, PORT),
      ])),
    );
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop().catch(() => undefined)));
    await Promise.all([1, 2].map((slot) => removeNetwork(slot, config).catch(() => undefined)));
    await removeHostNetwork(config).catch(() => undefined);
    await removePeer();
    await sweepNetwork(config, new Set()).catch(() => undefined);
  });

  it('the host reaches each guest at its sandbox address; the guest sees the host veth address', async () => {
    for (const layout of [a, b]) {
      await assertRoutedVia(layout.hostIp, layout.hostVeth);
      const attempt = await connectFromHost(layout.hostIp, PORT, 2_000);
      expect(attempt).toEqual({
        ok: true,
        peer: expect.objectContaining({ remoteAddress: layout.hostVethIp }),
      });
    }
  });

  it('drops sandbox-to-sandbox and private-range egress (bounded 1 s attempts)', async () => {
    await assertRoutedVia(b.hostIp, b.hostVeth);
    await assertRoutedVia(PEER.ip, PEER.link);
    const [toSandbox, toSandboxFromNs, toPeer] = await Promise.all([
      connectFrom(a.netns, { host: b.hostIp, port: PORT, localAddress: GUEST_IP }),
      connectFrom(a.netns, { host: b.hostIp, port: PORT }),
      connectFrom(a.netns, { host: PEER.ip, port: PORT, localAddress: GUEST_IP }),
    ]);
    expect(toSandbox).toEqual({ ok: false, error: 'timeout' });
    expect(toSandboxFromNs).toEqual({ ok: false, error: 'timeout' });
    expect(toPeer).toEqual({ ok: false, error: 'timeout' });
  });

  it('keeps sandboxes away from services on the host itself (input guard), while the host still reaches them', async () => {
    // A host service listening on the address the sandbox's default route points at.
    const service = createServer((socket) => socket.end('host service\n'));
    await new Promise<void>((resolve) => service.listen(PORT + 1, a.hostVethIp, resolve));
    try {
      const fromSandbox = await connectFrom(a.netns, {
        host: a.hostVethIp,
        port: PORT + 1,
        localAddress: GUEST_IP,
      });
      expect(fromSandbox).toEqual({ ok: false, error: 'timeout' });
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: a.hostVethIp, port: PORT + 1, timeout: 1_000 });
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString();
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
        socket.on('timeout', () => reject(new Error('timeout')));
      });
      expect(reply).toBe('host service\n');
    } finally {
      await new Promise((resolve) => service.close(resolve));
    }
  });

  it('lets the guest reach a private CIDR listed in egressAllow, SNAT then masquerade on the uplink', async () => {
    await ensureHostNetwork({ ...config, egressAllow: [PEER.cidr] });
    await assertRoutedVia(PEER.ip, PEER.link);
    const attempt = await connectFrom(a.netns, { host: PEER.ip, port: PORT, localAddress: GUEST_IP }, 2_000);
    expect(attempt).toEqual({ ok: true, peer: expect.objectContaining({ remoteAddress: PEER.hostIp }) });
    // Still no way to another sandbox.
    await assertRoutedVia(b.hostIp, b.hostVeth);
    expect(await connectFrom(a.netns, { host: b.hostIp, port: PORT, localAddress: GUEST_IP })).toEqual({
      ok: false,
      error: 'timeout',
    });
  });

  it('removing everything leaves the host exactly as before', async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await Promise.all([1, 2].map((slot) => removeNetwork(slot, config)));
    await removeHostNetwork(config);
    await removePeer();
    expect(await snapshotHost(config.prefix)).toEqual(before);
  });
});
