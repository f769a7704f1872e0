import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/index.ts';
import {
  addressAt,
  cidrContains,
  cidrSize,
  cidrsOverlap,
  formatCidr,
  formatIpv4,
  parseCidr,
  parseIpv4,
} from '../../src/network/ipv4.ts';

describe('ipv4', () => {
  it('parses and formats addresses across the whole range', () => {
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('10.12.0.3')).toBe(0x0a0c0003);
    expect(parseIpv4('255.255.255.255')).toBe(0xffff_ffff);
    expect(formatIpv4(0xffff_ffff)).toBe('255.255.255.255');
    expect(formatIpv4(parseIpv4('169.254.0.21'))).toBe('169.254.0.21');
  });

  it('rejects malformed addresses', () => {
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '01.2.3.4',
      '1.2.3.-1',
      'a.b.c.d',
      '1.2.3.4 ',
    ]) {
      expect(() => parseIpv4(bad), bad).toThrow(ValidationError);
    }
    expect(() => formatIpv4(2 ** 32)).toThrow(ValidationError);
    expect(() => formatIpv4(-1)).toThrow(ValidationError);
  });

  it('parses CIDRs, treating a bare address as /32 and refusing host bits', () => {
    expect(parseCidr('10.12.0.0/16')).toEqual({ base: 0x0a0c0000, prefixLength: 16 });
    expect(parseCidr('10.12.0.7')).toEqual({ base: 0x0a0c0007, prefixLength: 32 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ base: 0, prefixLength: 0 });
    expect(formatCidr(parseCidr('192.168.0.0/16'))).toBe('192.168.0.0/16');
    for (const bad of ['10.12.0.1/16', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/x']) {
      expect(() => parseCidr(bad), bad).toThrow(ValidationError);
    }
  });

  it('adds offsets inside a network only', () => {
    const range = parseCidr('10.12.0.0/16');
    expect(cidrSize(range)).toBe(65_536);
    expect(formatIpv4(addressAt(range, 2 * 999 + 1))).toBe('10.12.7.207');
    expect(formatIpv4(addressAt(range, 65_535))).toBe('10.12.255.255');
    expect(() => addressAt(range, 65_536)).toThrow(ValidationError);
    expect(() => addressAt(range, -1)).toThrow(ValidationError);
    expect(() => addressAt(range, 1.5)).toThrow(ValidationError);
  });

  it('tells containment and overlap', () => {
    const ten = parseCidr('10.0.0.0/8');
    expect(cidrContains(ten, parseIpv4('10.255.255.255'))).toBe(true);
    expect(cidrContains(ten, parseIpv4('11.0.0.0'))).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0'), parseIpv4('203.0.113.9'))).toBe(true);
    expect(cidrContains(parseCidr('255.255.255.255/32'), 0xffff_ffff)).toBe(true);
    expect(cidrsOverlap(ten, parseCidr('10.12.0.0/16'))).toBe(true);
    expect(cidrsOverlap(parseCidr('10.12.0.0/16'), ten)).toBe(true);
    expect(cidrsOverlap(parseCidr('10.12.0.0/16'), parseCidr('10.11.0.0/16'))).toBe(false);
  });
});
