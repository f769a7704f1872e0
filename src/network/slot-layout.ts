import { ValidationError } from '../errors/index.ts';
import { GUEST_MAC, GUEST_TAP } from '../vmm/vm-spec.ts';
import { addressAt, formatIpv4, parseCidr } from './ipv4.ts';
import type { NetworkConfig } from './network-config.ts';

/** Every guest's address: the same in every slot, so a memory snapshot restores anywhere. */
export const GUEST_IP = '169.254.0.21';
/** The TAP device's address inside every namespace: the guest's gateway. */
export const TAP_IP = '169.254.0.22';
/** Prefix length of the TAP link (169.254.0.20/30). */
export const TAP_PREFIX_LENGTH = 30;
/** The namespace end of every veth pair. */
export const NS_VETH = 'eth0';
/** Prefix length of each veth link. */
export const VETH_PREFIX_LENGTH = 31;

export { GUEST_MAC, GUEST_TAP };

/** Every name and address one network slot uses; a pure function of slot and config. */
export interface SlotLayout {
  slot: number;
  /** Network namespace the VMM runs in. */
  netns: string;
  /** Host end of the veth pair. */
  hostVeth: string;
  /** Namespace end of the veth pair (always eth0). */
  nsVeth: string;
  /** Host end's address (the namespace's default gateway). */
  hostVethIp: string;
  /** Namespace end's address (SNAT source for guest traffic, next hop of the host route). */
  nsVethIp: string;
  /** The sandbox address the host connects to; DNAT'd to the guest inside the namespace. */
  hostIp: string;
  tap: string;
  tapIp: string;
  guestIp: string;
  guestMac: string;
  /** nftables table (family ip) inside the namespace holding the DNAT/SNAT. */
  natTable: string;
}

/** Throws ValidationError unless `slot` is an integer in 1..config.maxSlots. */
export function assertSlot(slot: number, config: NetworkConfig): number {
  if (!Number.isInteger(slot) || slot < 1 || slot > config.maxSlots) {
    throw new ValidationError(`invalid network slot ${slot}: must be an integer in 1..${config.maxSlots}`, {
      field: 'slot',
      value: slot,
    });
  }
  return slot;
}

/** Names and addresses of slot `slot` (1..maxSlots). */
export function slotLayout(slot: number, config: NetworkConfig): SlotLayout {
  assertSlot(slot, config);
  const veth = parseCidr(config.vethRange);
  const host = parseCidr(config.hostRange);
  return {
    slot,
    netns: `${config.prefix}-ns-${slot}`,
    hostVeth: `${config.prefix}-veth-${slot}`,
    nsVeth: NS_VETH,
    hostVethIp: formatIpv4(addressAt(veth, 2 * slot)),
    nsVethIp: formatIpv4(addressAt(veth, 2 * slot + 1)),
    hostIp: formatIpv4(addressAt(host, slot)),
    tap: GUEST_TAP,
    tapIp: TAP_IP,
    guestIp: GUEST_IP,
    guestMac: GUEST_MAC,
    natTable: `${config.prefix}-nat`,
  };
}

/** The slot a namespace or host veth name belongs to under this prefix, or undefined. */
export function slotOfName(name: string, kind: 'ns' | 'veth', config: NetworkConfig): number | undefined {
  const match = new RegExp(`^${config.prefix}-${kind}-([1-9]\\d{0,8})$`).exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
