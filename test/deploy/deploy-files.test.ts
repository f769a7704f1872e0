import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { WorkerConfig } from '../../src/config/worker-config.ts';
import { readWorkerConfigFile } from '../../src/config/worker-config-file.ts';
import { resolveWorkerConfig } from '../../src/config/worker-config-sources.ts';
import { parseNetworkConfig } from '../../src/network/index.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const at = (path: string) => join(root, path);

/** The official Compose schema, vendored with its source and licence (compose-spec/SOURCE.md). */
async function composeValidator() {
  const schema = JSON.parse(
    await readFile(at('test/deploy/compose-spec/compose-spec.json'), 'utf8'),
  ) as object;
  // allErrors: a failing file lists every problem; strict off: the schema uses annotations
  // (deprecated, x- extensions) that ajv's strict mode would take for typos.
  return new Ajv2020({ allErrors: true, strict: false }).compile(schema);
}

/** A systemd unit as sections of (key, value) lines, in order; repeated keys stay repeated. */
function parseUnit(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      current = [];
      sections.set(section[1]!, current);
      continue;
    }
    const entry = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!entry || current === undefined) throw new Error(`unit line ${index + 1} is not Key=value: ${raw}`);
    current.push([entry[1]!, entry[2]!]);
  }
  return sections;
}

const values = (unit: Map<string, [string, string][]>, section: string, key: string) =>
  (unit.get(section) ?? []).filter(([name]) => name === key).map(([, value]) => value);

describe('deployment files: docker-compose.yml, deploy/worker.example.yaml, deploy/hangar-worker.service', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir('hangar-deploy-');
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it('docker-compose.yml is valid against the Compose Specification schema (and the check does catch a bad file)', async () => {
    const validate = await composeValidator();
    const compose = parse(await readFile(at('docker-compose.yml'), 'utf8')) as Record<string, unknown>;
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);

    const services = compose.services as Record<string, Record<string, unknown>>;
    const broken = {
      ...compose,
      services: { ...services, worker: { ...services.worker, privileged: ['yes'], restartt: 'always' } },
    };
    expect(validate(broken)).toBe(false);
    const complaints = (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
    expect(complaints).toContain('/services/worker must NOT have additional properties');
    expect(complaints.some((complaint) => complaint.startsWith('/services/worker/privileged must be'))).toBe(
      true,
    );
  });

  it('the compose worker reads its mounted config file, and the job key is required from the environment', async () => {
    const compose = parse(await readFile(at('docker-compose.yml'), 'utf8')) as {
      services: Record<
        string,
        {
          command?: string[];
          configs?: { source: string; target: string }[];
          environment?: Record<string, string>;
        }
      >;
      configs: Record<string, { file: string }>;
    };
    const worker = compose.services.worker!;
    const mounted = worker.configs?.[0];
    expect(worker.command).toEqual(['node', 'bin/hangar.ts', 'worker', '--config', mounted?.target]);
    const file = compose.configs[mounted!.source]!.file;
    const config = resolveWorkerConfig({ file: await readWorkerConfigFile(at(file)), env: {} });
    expect(config).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379', stateDir: '/var/lib/hangar' });
    // `${VAR:?message}`: compose refuses to start without a key rather than run unsigned jobs.
    expect(worker.environment?.HANGAR_JOB_KEY).toMatch(/^\$\{HANGAR_JOB_KEY:\?[^}]+\}$/);
    expect(worker.environment?.REDIS_URL).toBeUndefined();
  });

  it('deploy/worker.example.yaml parses with the worker config schema and documents every field', async () => {
    const path = at('deploy/worker.example.yaml');
    const file = await readWorkerConfigFile(path);
    const config = resolveWorkerConfig({ file, env: {} });
    expect(config).toMatchObject({
      redisUrl: 'rediss://redis.internal:6380',
      redisTls: {
        ca: '/etc/hangar/tls/ca.pem',
        cert: '/etc/hangar/tls/worker.pem',
        key: '/etc/hangar/tls/worker.key',
      },
      stateDir: '/var/lib/hangar',
      pool: { base: { count: 2, vcpus: 1, memoryMib: 512 } },
    });
    expect(parseNetworkConfig(config.network)).toMatchObject({ prefix: 'hangar', maxSlots: 999 });
    // Each field appears set or commented out (`# jobKeyFile: ...`), with a comment above it.
    const text = await readFile(path, 'utf8');
    const lines = text.split('\n');
    for (const field of Object.keys(WorkerConfig.shape)) {
      const index = lines.findIndex((line) => new RegExp(`^(# )?${field}:`).test(line));
      expect(index, `${field} in the example`).toBeGreaterThan(0);
      expect(lines[index - 1], `the comment above ${field}`).toMatch(/^#/);
    }
  });

  it('deploy/hangar-worker.service has the keys the worker needs, and no mount namespace', async () => {
    const unit = parseUnit(await readFile(at('deploy/hangar-worker.service'), 'utf8'));
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    const one = (key: string) => {
      const found = values(unit, 'Service', key);
      expect(found, key).toHaveLength(1);
      return found[0]!;
    };
    expect(one('ExecStart')).toBe(
      '/usr/local/bin/hangar worker --config /etc/hangar/worker.yaml --job-key-file %d/job-key',
    );
    expect(one('LoadCredential')).toBe('job-key:/etc/hangar/job-key');
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartSec')).toBe('5s');
    expect(one('KillMode')).toBe('process');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('StateDirectory')).toBe('hangar');
    expect(one('UMask')).toBe('0077');
    expect(one('TasksMax')).toBe('infinity');
    expect(Number(one('LimitNOFILE'))).toBeGreaterThanOrEqual(65_536);
    expect(one('CapabilityBoundingSet').split(' ').sort()).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']);
    expect(one('DevicePolicy')).toBe('closed');
    expect(values(unit, 'Service', 'DeviceAllow')).toEqual([
      '/dev/kvm rw',
      '/dev/net/tun rw',
      '/dev/loop-control rw',
      'block-loop rw',
      '/dev/mapper/control rw',
      'block-device-mapper rw',
    ]);
    // Any of these gives the service its own mount namespace, where `ip netns add` would
    // leave the namespaces of running VMs out of a restarted worker's sight.
    for (const key of [
      'ProtectSystem',
      'ProtectHome',
      'PrivateTmp',
      'PrivateDevices',
      'PrivateMounts',
      'ReadWritePaths',
      'ReadOnlyPaths',
      'InaccessiblePaths',
      'ProtectKernelModules',
      'ProtectKernelTunables',
      'ProtectControlGroups',
      'MountFlags',
    ]) {
      expect(values(unit, 'Service', key), key).toEqual([]);
    }
    expect(values(unit, 'Install', 'WantedBy')).toEqual(['multi-user.target']);
  });

  it('deploy/hangar-worker.service passes `systemd-analyze verify` (with ExecStart pointed at this checkout)', async (context) => {
    const found = await execa('systemd-analyze', ['--version'], { reject: false });
    if (found.exitCode !== 0) {
      context.skip('systemd-analyze is not installed here: only the key checks above ran');
      return;
    }
    // The package is not installed globally here, so /usr/local/bin/hangar does not exist:
    // verify checks that ExecStart's program is executable, so the copy runs this checkout's.
    const text = await readFile(at('deploy/hangar-worker.service'), 'utf8');
    const path = join(dir.path, 'hangar-worker.service');
    await writeFile(
      path,
      text.replace('/usr/local/bin/hangar ', `${process.execPath} ${at('bin/hangar.ts')} `),
    );
    const result = await execa('systemd-analyze', ['verify', '--man=no', path], { reject: false });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.exitCode).toBe(0);
  });
});
