import { formatIpv4, parseCidr } from './ipv4.ts';
import type { NetworkConfig } from './network-config.ts';
import { NS_VETH, type SlotLayout } from './slot-layout.ts';

/** Ranges no sandbox may reach unless egressAllow says so (RFC 1918, CGNAT, link-local). */
export const PRIVATE_RANGES = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '169.254.0.0/16',
] as const;

/** The host table's name (family inet): one per prefix, so removing it touches nothing else. */
export function hostTableName(config: NetworkConfig): string {
  return config.prefix;
}

/** Matches every sandbox's host veth (nft interface wildcard). */
function vethWildcard(config: NetworkConfig): string {
  return `"${config.prefix}-veth-*"`;
}

/** How nft prints a CIDR back: a /32 is a bare address. */
function nftCidr(text: string): string {
  const cidr = parseCidr(text);
  return cidr.prefixLength === 32 ? formatIpv4(cidr.base) : `${formatIpv4(cidr.base)}/${cidr.prefixLength}`;
}

/**
 * The host table as an `nft -f -` transaction that replaces it atomically: `add` makes the
 * `delete` safe when it is absent, and both happen in one commit with the new contents.
 */
export function hostRuleset(config: NetworkConfig, uplink: string | undefined): string {
  const table = hostTableName(config);
  const veths = vethWildcard(config);
  const allow = config.egressAllow.map((cidr) => `    iifname ${veths} ip daddr ${nftCidr(cidr)} accept`);
  const leaving = uplink === undefined ? `oifname != ${veths}` : `oifname "${uplink}"`;
  return [
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    '    ct state established,related accept',
    ...allow,
    `    iifname ${veths} oifname ${veths} drop`,
    `    iifname ${veths} ip daddr { ${PRIVATE_RANGES.join(', ')} } drop`,
    '  }',
    // Sandboxes may answer the host but never open connections to its own services.
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    `    iifname ${veths} ct state established,related accept`,
    `    iifname ${veths} drop`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${config.vethRange} ${leaving} masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** What summarizeNft (inspect.ts) reads back from a correct host table. */
export function expectedHostSummary(config: NetworkConfig, uplink: string | undefined): string[] {
  const veths = `${config.prefix}-veth-*`;
  const privates = [...PRIVATE_RANGES].sort().join(',');
  return [
    'chain forward filter forward 0 accept',
    'chain input filter input 0 accept',
    'chain postrouting nat postrouting 100 accept',
    'forward: ct.state in {established,related} accept',
    ...config.egressAllow.map(
      (cidr) => `forward: iifname == {${veths}} ip.daddr == {${nftCidr(cidr)}} accept`,
    ),
    `forward: iifname == {${veths}} oifname == {${veths}} drop`,
    `forward: iifname == {${veths}} ip.daddr == {${privates}} drop`,
    `input: iifname == {${veths}} ct.state in {established,related} accept`,
    `input: iifname == {${veths}} drop`,
    uplink === undefined
      ? `postrouting: ip.saddr == {${nftCidr(config.vethRange)}} oifname != {${veths}} masquerade`
      : `postrouting: ip.saddr == {${nftCidr(config.vethRange)}} oifname == {${uplink}} masquerade`,
  ];
}

/**
 * The namespace's NAT table as an atomic-replace transaction: the host's connections to the
 * sandbox address go to the guest, and the guest's traffic leaves as the veth address.
 */
export function nsNatRuleset(layout: SlotLayout): string {
  const table = layout.natTable;
  return [
    `add table ip ${table}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    iifname "${NS_VETH}" ip daddr ${layout.hostIp} dnat to ${layout.guestIp}`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    oifname "${NS_VETH}" ip saddr ${layout.guestIp} snat to ${layout.nsVethIp}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** What summarizeNft reads back from a correct namespace NAT table. */
export function expectedNsNatSummary(layout: SlotLayout): string[] {
  return [
    'chain prerouting nat prerouting -100 accept',
    'chain postrouting nat postrouting 100 accept',
    `prerouting: iifname == {${NS_VETH}} ip.daddr == {${layout.hostIp}} dnat ${layout.guestIp}`,
    `postrouting: oifname == {${NS_VETH}} ip.saddr == {${layout.guestIp}} snat ${layout.nsVethIp}`,
  ];
}
