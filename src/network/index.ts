// Per-sandbox networking: slot layout, ensure/remove/sweep of kernel objects, the host table.
export { type EnsureNetworkOptions, ensureNetwork } from './ensure-network.ts';
export { ensureHostNetwork, removeHostNetwork, resolveUplink } from './host-network.ts';
export {
  type LinkState,
  listNetns,
  type RouteState,
  readLinks,
  readNftTable,
  readRoutes,
} from './inspect.ts';
export * from './ipv4.ts';
export {
  hostRangeCapacity,
  IFNAMSIZ_CHARS,
  NetworkConfig,
  type NetworkConfigInput,
  parseNetworkConfig,
  vethRangeCapacity,
} from './network-config.ts';
export { NetworkError } from './network-error.ts';
export {
  expectedHostSummary,
  expectedNsNatSummary,
  hostRuleset,
  hostTableName,
  nsNatRuleset,
  PRIVATE_RANGES,
} from './nft-rules.ts';
export { summarizeNft } from './nft-summary.ts';
export { type RemoveNetworkOptions, removeNetwork } from './remove-network.ts';
export { ClaimOwner, ClaimRecord, type CorruptClaim, poolOwner, SlotClaims } from './slot-claims.ts';
export {
  assertSlot,
  GUEST_IP,
  GUEST_MAC,
  GUEST_TAP,
  NS_VETH,
  type SlotLayout,
  slotLayout,
  slotOfName,
  TAP_IP,
  TAP_PREFIX_LENGTH,
  VETH_PREFIX_LENGTH,
} from './slot-layout.ts';
export { SlotPool, type SlotPoolOptions, type SlotPoolStats } from './slot-pool.ts';
export { SLOT_STEP_NAMES } from './steps/slot-steps.ts';
export { type SweepResult, sweepNetwork } from './sweep.ts';
