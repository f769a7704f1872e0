import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ensureHostNetwork,
  hostRuleset,
  nsNatRuleset,
  parseNetworkConfig,
  removeHostNetwork,
  slotLayout,
} from '../../src/network/index.ts';
import { RecordingRunner } from './support/recording-runner.ts';

const config = parseNetworkConfig({
  prefix: 'hgte',
  vethRange: '10.226.0.0/16',
  hostRange: '10.227.0.0/16',
  egressAllow: ['203.0.113.0/24', '198.51.100.7/32'],
});

/** `nft -c`: parses and checks a ruleset against the kernel without committing it. */
async function nftCheck(ruleset: string): Promise<void> {
  await execa('nft', ['-c', '-f', '-'], { input: ruleset });
}

describe('nft rulesets', () => {
  afterAll(async () => {
    await removeHostNetwork(config).catch(() => undefined);
  });

  it('the host table replaces itself in one transaction and passes nft -c', async () => {
    const text = hostRuleset(config, undefined);
    expect(text.split('\n').slice(0, 3)).toEqual([
      'add table inet hgte',
      'delete table inet hgte',
      'table inet hgte {',
    ]);
    expect(text).toContain('oifname != "hgte-veth-*" masquerade');
    expect(hostRuleset(config, 'lo')).toContain('ip saddr 10.226.0.0/16 oifname "lo" masquerade');
    await nftCheck(text);
    await nftCheck(hostRuleset(config, 'lo'));
  });

  it('the namespace NAT table passes nft -c', async () => {
    const text = nsNatRuleset(slotLayout(4, config));
    expect(text).toContain('iifname "eth0" ip daddr 10.227.0.4 dnat to 169.254.0.21');
    expect(text).toContain('oifname "eth0" ip saddr 169.254.0.21 snat to 10.226.0.9');
    await nftCheck(text);
  });

  it('ensureHostNetwork reads back what it wrote (uplink set, /32 allowed): a second call only reads', async () => {
    const withUplink = { ...config, uplink: 'lo' };
    await ensureHostNetwork(withUplink);
    const recorder = new RecordingRunner();
    await ensureHostNetwork(withUplink, recorder);
    expect(recorder.mutating()).toEqual([]);
    // A changed config is a different table: replaced.
    const changed = new RecordingRunner();
    await ensureHostNetwork({ ...withUplink, egressAllow: [] }, changed);
    expect(changed.mutating()).toEqual([['nft', '-f', '-']]);
    expect(await removeHostNetwork(config)).toBe(true);
  });
});
