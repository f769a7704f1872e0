import { BlockList, isIP } from 'node:net';
import { ValidationError } from '../errors/index.ts';
import type { BasicAuthCredentials } from './basic-auth.ts';

// 127.0.0.0/8 and ::1; BlockList also matches their IPv4-mapped forms (::ffff:127.0.0.1).
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * Whether a listen address reaches only this machine: an address in 127.0.0.0/8, ::1, or
 * `localhost`. Any other name counts as exposed: what it resolves to is not ours to trust.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  const family = isIP(bare);
  return family !== 0 && loopback.check(bare, family === 6 ? 'ipv6' : 'ipv4');
}

/** The dashboard was asked to listen beyond loopback with no credentials in front of it. */
export class DashboardExposedError extends ValidationError {
  readonly host: string;

  constructor(host: string) {
    super(
      `refusing to serve the dashboard on ${host} without credentials: anyone who can reach it could ` +
        'read every job; set --basic-auth user:password (or HANGAR_DASHBOARD_AUTH, or the basicAuth ' +
        'option), or listen on 127.0.0.1',
      { host, field: 'basicAuth', flag: '--basic-auth', env: 'HANGAR_DASHBOARD_AUTH' },
    );
    this.host = host;
  }
}

/** Throws DashboardExposedError unless `host` is loopback or credentials are configured. */
export function assertNotExposed(host: string, credentials: BasicAuthCredentials | undefined): void {
  if (credentials === undefined && !isLoopbackHost(host)) throw new DashboardExposedError(host);
}
