// The Bull Board dashboard over a fleet's queues: read-only unless allowed, basic auth (required
// beyond loopback), the fleet pages and a small fleet JSON API.
export { BasicAuthCredentials, basicAuth, parseBasicAuth } from './basic-auth.ts';
export {
  BOARD_PATH,
  type Dashboard,
  DashboardOptions,
  type DashboardOptionsInput,
  startDashboard,
} from './dashboard.ts';
export { assertNotExposed, DashboardExposedError, isLoopbackHost } from './exposure.ts';
export { type FleetRoutes, fleetRoutes } from './fleet-routes.ts';
export { type FleetSummary, fleetSummary } from './fleet-summary.ts';
export { FLEET_PATH } from './layout.ts';
export { PortInUseError } from './listen.ts';
export { QueueRegistry } from './queue-registry.ts';
export { READ_ONLY_MESSAGE, refuseActions } from './read-only.ts';
