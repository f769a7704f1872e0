import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { cidrSize, cidrsOverlap, type Ipv4Cidr, parseCidr } from './ipv4.ts';

/** Linux interface names hold at most 15 characters (IFNAMSIZ 16 with the NUL). */
export const IFNAMSIZ_CHARS = 15;

/** Link-local block the guest and TAP addresses live in: the ranges must stay clear of it. */
const GUEST_BLOCK = '169.254.0.0/16';

/** Parses a CIDR inside a zod refinement, reporting a readable issue instead of throwing. */
function tryCidr(text: string): Ipv4Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined;
  }
}

const Cidr = z.string().refine((text) => tryCidr(text) !== undefined, {
  message: 'must be an IPv4 CIDR such as 10.12.0.0/16 (network address, no host bits)',
});

const InterfaceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, 'must be an interface name of 1-15 safe characters');

/** The largest slot number a veth range can hold: slot i takes offsets 2i and 2i + 1. */
export function vethRangeCapacity(range: Ipv4Cidr): number {
  return Math.floor((cidrSize(range) - 2) / 2);
}

/** The largest slot number a host range can hold: slot i takes offset i. */
export function hostRangeCapacity(range: Ipv4Cidr): number {
  return cidrSize(range) - 1;
}

/**
 * Host networking for all sandboxes: names come from `prefix`, addresses from the two ranges.
 * Both the zod schema and (as a type) the parsed config with defaults applied.
 */
export const NetworkConfig = z
  .object({
    /** Starts every kernel object's name (`hangar-ns-7`, `hangar-veth-7`, `table inet hangar`). */
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,5}$/, 'must be 1-6 chars of a-z and 0-9, starting with a letter')
      .default('hangar'),
    /** /31 per slot for the veth pair: host side base + 2i, namespace side base + 2i + 1. */
    vethRange: Cidr.default('10.12.0.0/16'),
    /** The sandbox address the host reaches: base + i, a /32 routed into slot i's namespace. */
    hostRange: Cidr.default('10.11.0.0/16'),
    /** Slots are 1..maxSlots. */
    maxSlots: z.number().int().min(1).default(999),
    /** Interface sandbox traffic leaves through; absent: the default route's, found at ensure time. */
    uplink: InterfaceName.optional(),
    /** CIDRs sandboxes may reach despite the private-range guard. */
    egressAllow: z.array(Cidr).default([]),
  })
  .strict()
  .superRefine((config, ctx) => {
    const veth = tryCidr(config.vethRange);
    const host = tryCidr(config.hostRange);
    const longestName = `${config.prefix}-veth-${config.maxSlots}`;
    if (longestName.length > IFNAMSIZ_CHARS) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxSlots'],
        message: `${longestName} is longer than ${IFNAMSIZ_CHARS} characters: shorten the prefix or lower maxSlots`,
      });
    }
    if (veth === undefined || host === undefined) return;
    if (config.maxSlots > vethRangeCapacity(veth)) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxSlots'],
        message: `vethRange ${config.vethRange} holds only ${vethRangeCapacity(veth)} slots`,
      });
    }
    if (config.maxSlots > hostRangeCapacity(host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxSlots'],
        message: `hostRange ${config.hostRange} holds only ${hostRangeCapacity(host)} slots`,
      });
    }
    if (cidrsOverlap(veth, host)) {
      ctx.addIssue({ code: 'custom', path: ['hostRange'], message: 'must not overlap vethRange' });
    }
    const guest = parseCidr(GUEST_BLOCK);
    for (const [field, range] of [
      ['vethRange', veth],
      ['hostRange', host],
    ] as const) {
      if (cidrsOverlap(range, guest)) {
        ctx.addIssue({ code: 'custom', path: [field], message: `must not overlap ${GUEST_BLOCK}` });
      }
    }
  });

/** A validated network config with every default applied. */
export type NetworkConfig = z.output<typeof NetworkConfig>;
/** What callers may write: every field with a default is optional. */
export type NetworkConfigInput = z.input<typeof NetworkConfig>;

/** Validates a network config and applies defaults; throws ValidationError naming each bad field. */
export function parseNetworkConfig(input: unknown = {}): NetworkConfig {
  const parsed = NetworkConfig.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod('network config', parsed.error);
  return parsed.data;
}
