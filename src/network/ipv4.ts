import { ValidationError } from '../errors/index.ts';

/** An IPv4 network: its first address as an unsigned 32-bit integer and its prefix length. */
export interface Ipv4Cidr {
  base: number;
  prefixLength: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses dotted-quad text into an unsigned 32-bit integer; throws ValidationError. */
export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => OCTET.test(part))) {
    throw new ValidationError(`invalid IPv4 address ${JSON.stringify(text)}`, { value: text });
  }
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** Formats an unsigned 32-bit integer as dotted-quad text. */
export function formatIpv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new ValidationError(`IPv4 value out of range: ${value}`, { value });
  }
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** The netmask of a prefix length, as an unsigned integer (0 for /0). */
function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
}

/** Parses "a.b.c.d/n" (a bare address is a /32); the address must be the network's first one. */
export function parseCidr(text: string): Ipv4Cidr {
  const [address = '', length, ...rest] = text.split('/');
  const prefixLength = length === undefined ? 32 : Number(length);
  if (rest.length > 0 || !/^\d{1,2}$/.test(length ?? '32') || prefixLength > 32) {
    throw new ValidationError(`invalid IPv4 CIDR ${JSON.stringify(text)}`, { value: text });
  }
  const base = parseIpv4(address);
  if ((base & maskOf(prefixLength)) >>> 0 !== base) {
    throw new ValidationError(`IPv4 CIDR ${text} has host bits set`, { value: text });
  }
  return { base, prefixLength };
}

/** Canonical "a.b.c.d/n" text of a network. */
export function formatCidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.base)}/${cidr.prefixLength}`;
}

/** How many addresses a network holds. */
export function cidrSize(cidr: Ipv4Cidr): number {
  return 2 ** (32 - cidr.prefixLength);
}

/** The address `offset` places after the network's base; throws when it leaves the network. */
export function addressAt(cidr: Ipv4Cidr, offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset >= cidrSize(cidr)) {
    throw new ValidationError(`offset ${offset} is outside ${formatCidr(cidr)}`, { offset });
  }
  return cidr.base + offset;
}

/** Whether the network holds the address. */
export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return (address & maskOf(cidr.prefixLength)) >>> 0 === cidr.base;
}

/** Whether two networks share any address. */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return cidrContains(a, b.base) || cidrContains(b, a.base);
}
