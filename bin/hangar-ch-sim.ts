#!/usr/bin/env node
// The Cloud Hypervisor API simulator: a stand-in process for machines without cloud-hypervisor.
import { main } from '../src/vmm/simulator/main.ts';

main().catch((error: unknown) => {
  process.stderr.write(`hangar-ch-sim: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
