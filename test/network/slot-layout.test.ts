import { describe, expect, it } from 'vitest';
import { ErrorCode, ValidationError } from '../../src/errors/index.ts';
import {
  GUEST_IP,
  GUEST_MAC,
  parseNetworkConfig,
  slotLayout,
  slotOfName,
  TAP_IP,
} from '../../src/network/index.ts';

describe('parseNetworkConfig', () => {
  it('applies the documented defaults', () => {
    expect(parseNetworkConfig({})).toEqual({
      prefix: 'hangar',
      vethRange: '10.12.0.0/16',
      hostRange: '10.11.0.0/16',
      maxSlots: 999,
      egressAllow: [],
    });
  });

  it('refuses bad prefixes, ranges and unknown fields, naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ prefix: 'Hangar' }, 'prefix'],
      [{ prefix: 'toolong1' }, 'prefix'],
      [{ prefix: '1abc' }, 'prefix'],
      [{ vethRange: '10.12.0.1/16' }, 'vethRange'],
      [{ hostRange: 'nope' }, 'hostRange'],
      [{ egressAllow: ['10.0.0.0/33'] }, 'egressAllow.0'],
      [{ uplink: 'eth0; drop' }, 'uplink'],
      [{ hostRange: '10.12.0.0/24' }, 'hostRange'],
      [{ vethRange: '169.254.0.0/16' }, 'vethRange'],
      [{ extra: 1 }, '(root)'],
    ];
    for (const [input, field] of cases) {
      const error = (() => {
        try {
          parseNetworkConfig(input);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error, JSON.stringify(input)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe(ErrorCode.Validation);
      expect(JSON.stringify((error as ValidationError).details.issues)).toContain(`"field":"${field}"`);
    }
  });

  it('keeps maxSlots within what the ranges hold and what IFNAMSIZ allows', () => {
    expect(() => parseNetworkConfig({ maxSlots: 1000 })).toThrow(/longer than 15/);
    expect(parseNetworkConfig({ prefix: 'hg', maxSlots: 32_000 }).maxSlots).toBe(32_000);
    expect(parseNetworkConfig({ prefix: 'hg', maxSlots: 32_767 }).maxSlots).toBe(32_767);
    expect(() => parseNetworkConfig({ prefix: 'hg', maxSlots: 32_768 })).toThrow(
      /vethRange 10.12.0.0\/16 holds only 32767/,
    );
    expect(() =>
      parseNetworkConfig({ vethRange: '10.12.0.0/24', hostRange: '10.11.0.0/24', maxSlots: 200 }),
    ).toThrow(/vethRange 10.12.0.0\/24 holds only 127 slots/);
    expect(() => parseNetworkConfig({ hostRange: '10.11.0.0/24', maxSlots: 300 })).toThrow(
      /hostRange 10.11.0.0\/24 holds only 255 slots/,
    );
  });
});

describe('slotLayout', () => {
  const config = parseNetworkConfig({});

  it('derives names and addresses from the slot number', () => {
    expect(slotLayout(7, config)).toEqual({
      slot: 7,
      netns: 'hangar-ns-7',
      hostVeth: 'hangar-veth-7',
      nsVeth: 'eth0',
      hostVethIp: '10.12.0.14',
      nsVethIp: '10.12.0.15',
      hostIp: '10.11.0.7',
      tap: 'tap0',
      tapIp: '169.254.0.22',
      guestIp: '169.254.0.21',
      guestMac: '02:fc:00:00:00:05',
      natTable: 'hangar-nat',
    });
    const last = slotLayout(999, config);
    expect(last.hostVeth).toBe('hangar-veth-999');
    expect(last.hostVeth.length).toBeLessThanOrEqual(15);
    expect([last.hostVethIp, last.nsVethIp, last.hostIp]).toEqual([
      '10.12.7.206',
      '10.12.7.207',
      '10.11.3.231',
    ]);
  });

  it('gives every slot the same guest address and MAC, so snapshots restore anywhere', () => {
    const guests = new Set([1, 2, 500, 999].map((slot) => JSON.stringify(slotLayout(slot, config))));
    expect(guests.size).toBe(4);
    for (const slot of [1, 2, 500, 999]) {
      const layout = slotLayout(slot, config);
      expect([layout.guestIp, layout.guestMac, layout.tapIp]).toEqual([GUEST_IP, GUEST_MAC, TAP_IP]);
    }
  });

  it('refuses slots outside 1..maxSlots', () => {
    for (const bad of [0, -1, 1000, 1.5, Number.NaN]) {
      expect(() => slotLayout(bad, config), String(bad)).toThrow(ValidationError);
    }
  });

  it('reads the slot back from a name of this prefix only', () => {
    expect(slotOfName('hangar-ns-12', 'ns', config)).toBe(12);
    expect(slotOfName('hangar-veth-999', 'veth', config)).toBe(999);
    expect(slotOfName('hangarx-ns-12', 'ns', config)).toBeUndefined();
    expect(slotOfName('hangar-ns-012', 'ns', config)).toBeUndefined();
    expect(slotOfName('hangar-veth-peer', 'veth', config)).toBeUndefined();
    expect(slotOfName('hangar-ns-1', 'veth', config)).toBeUndefined();
  });
});
