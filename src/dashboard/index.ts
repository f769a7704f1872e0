// The Bull Board dashboard over a fleet's queues, with basic auth and a small fleet JSON API.
export { BasicAuthCredentials, basicAuth, parseBasicAuth } from './basic-auth.ts';
export {
  BOARD_PATH,
  type Dashboard,
  DashboardOptions,
  type DashboardOptionsInput,
  startDashboard,
} from './dashboard.ts';
export { type FleetSummary, fleetSummary } from './fleet-summary.ts';
export { PortInUseError } from './listen.ts';
export { QueueRegistry } from './queue-registry.ts';
