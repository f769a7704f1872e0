import type { HostHeartbeat } from '../state/record-schemas.ts';

/** What a create asks of a host. */
export interface PlacementRequest {
  template: string;
  vcpus: number;
  memoryMib: number;
}

/**
 * Picks the live host for a create: it must have the template and room for the vCPUs,
 * memory and one more slot; among those, the most free memory wins (ties: fewest slots used),
 * so load spreads. Returns undefined when no host fits.
 */
export function chooseHost(
  hosts: readonly HostHeartbeat[],
  request: PlacementRequest,
): HostHeartbeat | undefined {
  const fits = hosts.filter(
    (host) =>
      host.templates.includes(request.template) &&
      host.capacity.vcpus - host.used.vcpus >= request.vcpus &&
      host.capacity.memoryMib - host.used.memoryMib >= request.memoryMib &&
      host.capacity.slots - host.used.slots >= 1,
  );
  fits.sort(
    (a, b) =>
      b.capacity.memoryMib - b.used.memoryMib - (a.capacity.memoryMib - a.used.memoryMib) ||
      a.used.slots - b.used.slots ||
      a.hostId.localeCompare(b.hostId),
  );
  return fits[0];
}
