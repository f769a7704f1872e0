import { Gauge, type Registry } from 'prom-client';
import { SandboxState } from '../events/event-schemas.ts';

/** What a worker's scrape-time gauges read: the host's ledger, warm pools and VMMs (a HostContext has all). */
export interface HostGaugeSource {
  hostId: string;
  backend: { info: { kind: string; standIn: boolean } };
  ledger: { entries(): readonly { state: SandboxState }[] };
  slots: { stats(): { warm: number; building: number } };
  pool: { stats(): { byTemplate: Record<string, { ready: number; warming: number; target: number }> } };
  vms: { liveProcesses(): number };
}

/**
 * Registers the gauges read from the host at each scrape, so they cost nothing between
 * scrapes and can never drift from the ledger: sandboxes by state (every state, zeros
 * included, so a series never vanishes), warm network slots, warm VMs per template and
 * state and their target, live VMM processes, and one info series naming host and backend.
 */
export function registerHostGauges(registry: Registry, host: HostGaugeSource): void {
  const registers = [registry];
  new Gauge({
    name: 'hangar_worker_info',
    help: 'Always 1: the host this worker serves and its VMM backend',
    labelNames: ['host_id', 'backend', 'stand_in'],
    registers,
    collect() {
      const { kind, standIn } = host.backend.info;
      this.reset();
      this.set({ host_id: host.hostId, backend: kind, stand_in: String(standIn) }, 1);
    },
  });
  new Gauge({
    name: 'hangar_sandboxes',
    help: "Sandboxes in this host's ledger, by state",
    labelNames: ['state'],
    registers,
    collect() {
      const counts = new Map<string, number>(SandboxState.options.map((state) => [state, 0]));
      for (const entry of host.ledger.entries()) counts.set(entry.state, (counts.get(entry.state) ?? 0) + 1);
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
  new Gauge({
    name: 'hangar_warm_slots',
    help: 'Network slots built ahead of demand (state warm: ready to hand out; building: being built)',
    labelNames: ['state'],
    registers,
    collect() {
      const { warm, building } = host.slots.stats();
      this.set({ state: 'warm' }, warm);
      this.set({ state: 'building' }, building);
    },
  });
  new Gauge({
    name: 'hangar_warm_vms',
    help: 'VMs of the pool booted ahead of demand, by template and state (ready: paused and handed out on a create; warming)',
    labelNames: ['template', 'state'],
    registers,
    collect() {
      this.reset();
      for (const [template, figures] of Object.entries(host.pool.stats().byTemplate)) {
        this.set({ template, state: 'ready' }, figures.ready);
        this.set({ template, state: 'warming' }, figures.warming);
      }
    },
  });
  new Gauge({
    name: 'hangar_warm_vms_target',
    help: 'Ready VMs the pool keeps per template',
    labelNames: ['template'],
    registers,
    collect() {
      this.reset();
      for (const [template, figures] of Object.entries(host.pool.stats().byTemplate)) {
        this.set({ template }, figures.target);
      }
    },
  });
  new Gauge({
    name: 'hangar_vmm_processes',
    help: 'Live VMM processes this worker holds (sandboxes and pool VMs)',
    registers,
    collect() {
      this.set(host.vms.liveProcesses());
    },
  });
}
