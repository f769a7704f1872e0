import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultRunner } from '../../src/exec/command-runner.ts';
import {
  hostTableName,
  parseNetworkConfig,
  readNftTable,
  removeHostNetwork,
  sweepNetwork,
} from '../../src/network/index.ts';
import { namespacesWithPrefix } from '../support/network-objects.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';

const HANGAR = fileURLToPath(new URL('../../bin/hangar.ts', import.meta.url));
// A prefix and ranges no other test file uses, so the demo never touches another test's objects.
const network = parseNetworkConfig({
  prefix: 'hgdm',
  vethRange: '10.240.0.0/16',
  hostRange: '10.241.0.0/16',
});

describe('hangar demo --once [CH simulator stand-in]', () => {
  let keyPrefix: string | undefined;

  afterAll(async () => {
    // Only does something when the demo failed to clean up after itself.
    await sweepNetwork(network, new Set()).catch(() => undefined);
    await removeHostNetwork(network).catch(() => undefined);
    if (keyPrefix !== undefined) await deleteKeys(keyPrefix);
  }, 60_000);

  it('tours every operation with events printed, then leaves nothing behind', async () => {
    const result = await execa('node', [HANGAR, 'demo', '--once', '--port', '0'], {
      reject: false,
      timeout: 120_000,
      env: {
        REDIS_URL: TEST_REDIS_URL,
        HANGAR_NETWORK_PREFIX: network.prefix,
        HANGAR_VETH_RANGE: network.vethRange,
        HANGAR_HOST_RANGE: network.hostRange,
      },
    });
    const out = String(result.stdout);
    keyPrefix = /Key prefix: (\S+)/.exec(out)?.[1];
    const stateDir = /state dir: (\S+)/.exec(out)?.[1];
    expect(result.exitCode, `${out}\n${String(result.stderr)}`).toBe(0);
    expect(out).toMatch(/^Redis: /m);
    expect(out).toMatch(/^VMM: CH API simulator .*stand-in/m);
    expect(out).toMatch(/^Dashboard: http:\/\/127\.0\.0\.1:\d+\/admin\/queues/m);
    for (const step of [
      'create three sandboxes',
      'pause demo-1',
      'resume demo-1',
      'destroy all demo sandboxes',
    ]) {
      expect(out).toMatch(new RegExp(`✓ ${step}: \\d+ ms`));
    }
    expect(out).toMatch(/event .*sandbox\.state\s+demo-1\s+creating -> running/);
    expect(out).toMatch(/event .*job\.completed\s+demo-4\s+restore done/);
    expect(out).toMatch(/event .*batch\.progress/);
    expect(out).toMatch(/event .*batch\.completed .*4 snapshot\(s\), 0 failure\(s\)/);
    expect(out).toMatch(/event .*sandbox\.state\s+demo-4\s+destroying -> destroyed/);
    expect(out).toContain('Clean: no sandboxes');

    expect(keyPrefix).toMatch(/^hangar-demo-[0-9a-f]{8}$/);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await redis.keys(`${keyPrefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect(await namespacesWithPrefix(network.prefix)).toEqual([]);
    expect(await readNftTable(defaultRunner, 'inet', hostTableName(network))).toBeUndefined();
    await expect(access(stateDir ?? '/nonexistent-state-dir')).rejects.toThrow();
  }, 150_000);
});
