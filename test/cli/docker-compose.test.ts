import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registerDashboard } from '../../src/cli/commands/dashboard.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  privileged?: boolean;
  network_mode?: string;
  devices?: string[];
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
}

interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

async function readCompose(): Promise<Compose> {
  return parse(await readFile(`${root}/docker-compose.yml`, 'utf8')) as Compose;
}

/** The environment variable `hangar dashboard` reads its credentials from. */
function dashboardAuthEnv(): string | undefined {
  const program = new Command();
  registerDashboard(program);
  const dashboard = program.commands.find((command) => command.name() === 'dashboard');
  return dashboard?.options.find((option) => option.long === '--basic-auth')?.envVar;
}

// Docker cannot run on this machine (client only): the files are checked for shape, not run.
describe('docker-compose.yml and docker/Dockerfile', () => {
  it('parses, and wires redis, worker and dashboard as documented', async () => {
    const compose = await readCompose();
    const { redis, worker, dashboard } = compose.services;
    expect(redis?.image).toBe('redis:7');
    expect(redis?.command).toEqual([
      'redis-server',
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
    ]);
    expect(redis?.volumes?.[0]).toMatch(/^redis-data:\/data$/);

    expect(worker?.build).toEqual({ context: '.', dockerfile: 'docker/Dockerfile' });
    expect(worker?.command).toEqual([
      'node',
      'bin/hangar.ts',
      'worker',
      '--config',
      '/etc/hangar/worker.yaml',
    ]);
    expect(worker?.privileged).toBe(true);
    expect(worker?.network_mode).toBe('host');
    expect(worker?.devices).toContain('/dev/kvm:/dev/kvm');
    expect(worker?.volumes).toContain('hangar-state:/var/lib/hangar');
    // Redis and the state dir are in the mounted config file (test/deploy/deploy-files.test.ts).
    expect(worker?.environment?.HANGAR_JOB_KEY).toMatch(/^\$\{HANGAR_JOB_KEY:\?/);

    expect(dashboard?.image).toBe(worker?.image);
    expect(dashboard?.command).toEqual([
      'node',
      'bin/hangar.ts',
      'dashboard',
      '--host',
      '0.0.0.0',
      '--port',
      '3000',
    ]);
    expect(Object.keys(compose.volumes).sort()).toEqual(['hangar-state', 'redis-data']);
  });

  it('publishes the dashboard (and every other port) on 127.0.0.1 only', async () => {
    const { services } = await readCompose();
    expect(services.dashboard?.ports).toEqual(['127.0.0.1:3000:3000']);
    for (const [name, service] of Object.entries(services))
      for (const port of service.ports ?? [])
        expect(port, `${name} publishes ${port}`).toMatch(/^127\.0\.0\.1:/);
  });

  it('requires the dashboard credentials from the environment, in the variable the dashboard reads, and allows no actions', async () => {
    const { dashboard } = (await readCompose()).services;
    const variable = dashboardAuthEnv();
    expect(variable).toBe('HANGAR_DASHBOARD_AUTH');
    // `${VAR:?message}`: compose refuses to start when VAR is unset or empty, so there is no
    // default that would leave the dashboard (on 0.0.0.0 inside the container) without auth.
    expect(dashboard?.environment?.[variable ?? '']).toMatch(/^\$\{HANGAR_DASHBOARD_AUTH:\?[^}]+\}$/);
    expect(dashboard?.command).not.toContain('--allow-actions');
  });

  it('builds on node:24-bookworm with the host tools the worker runs', async () => {
    const dockerfile = await readFile(`${root}/docker/Dockerfile`, 'utf8');
    expect(dockerfile).toMatch(/^FROM node:24-bookworm$/m);
    for (const pkg of ['iproute2', 'nftables', 'xfsprogs']) expect(dockerfile).toContain(pkg);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/^COPY \. \.$/m);
  });
});
