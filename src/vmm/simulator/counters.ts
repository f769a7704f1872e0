import type { VmConfig, VmCounters } from '../cloud-hypervisor/schemas/index.ts';

/** vm.counters for a VM that has run `seconds`: per disk and NIC, growing at a steady made-up rate. */
export function simCounters(config: VmConfig, seconds: number): VmCounters {
  const n = (rate: number) => Math.floor(seconds * rate);
  const counters: VmCounters = {};
  for (const disk of config.disks ?? []) {
    if (disk.id === undefined) continue;
    counters[disk.id] = {
      read_bytes: n(4096 * 50),
      read_ops: n(50),
      write_bytes: n(4096 * 10),
      write_ops: n(10),
    };
  }
  for (const net of config.net ?? []) {
    if (net.id === undefined) continue;
    counters[net.id] = { rx_bytes: n(1500 * 4), rx_frames: n(4), tx_bytes: n(1500 * 3), tx_frames: n(3) };
  }
  return counters;
}
