// `hangar demo`: a whole fleet on one machine, a tour of the lifecycle, and a full cleanup.
export { deletePrefixKeys } from './delete-keys.ts';
export {
  cleanupHost,
  DEMO_HOST_ID,
  type DemoFleet,
  SIMULATOR_LATENCY,
  startDemoFleet,
} from './demo-fleet.ts';
export { type DemoRedis, demoRedis, LOCAL_REDIS_URL } from './demo-redis.ts';
export { type EventPrinter, startEventPrinter } from './event-printer.ts';
export { freePort } from './free-port.ts';
export { type DemoOptions, runDemo } from './run-demo.ts';
export { DEMO_LABELS, destroyDemoSandboxes, runTour } from './tour.ts';
