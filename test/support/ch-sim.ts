import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '../../src/util/poll.ts';
import { ChApiClient } from '../../src/vmm/cloud-hypervisor/api-client.ts';
import type { VmConfig } from '../../src/vmm/cloud-hypervisor/schemas/index.ts';

/** The simulator's executable, run with this Node (type stripping on). */
export const CH_SIM_BIN = fileURLToPath(new URL('../../bin/hangar-ch-sim.ts', import.meta.url));

/** How a CH simulator process ended. */
export interface SimExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running CH simulator process on a real Unix socket. */
export interface ChSim {
  socketPath: string;
  dir: string;
  child: ChildProcess;
  logPath: string;
  /** Settles when the process has exited. */
  exited: Promise<SimExit>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** The simulator's log file. */
  log(): Promise<string>;
  /** SIGKILLs the process if still alive, waits for it, removes the temp dir if we made it. */
  stop(): Promise<void>;
}

/** Options of startChSim. */
export interface ChSimOptions {
  /** Directory for the socket and log; a fresh temp dir (removed on stop) when absent. */
  dir?: string;
  /** Extra command-line arguments (after --api-socket, --log-file and -v). */
  args?: string[];
  /** Extra environment (HANGAR_SIM_FAULT, HANGAR_SIM_LATENCY). */
  env?: Record<string, string>;
  /** Wait until vmm.ping answers (default true); false for processes expected to fail. */
  waitReady?: boolean;
}

/** Starts `bin/hangar-ch-sim.ts` as a child process and waits until its API answers ping. */
export async function startChSim(options: ChSimOptions = {}): Promise<ChSim> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'hangar-chsim-')));
  const socketPath = join(dir, 'api.sock');
  const logPath = join(dir, 'sim.log');
  const argv = [
    CH_SIM_BIN,
    '--api-socket',
    `path=${socketPath}`,
    '--log-file',
    logPath,
    '-v',
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<SimExit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let done: SimExit | undefined;
  void exited.then((exit) => {
    done = exit;
  });
  const sim: ChSim = {
    socketPath,
    dir,
    child,
    logPath,
    exited,
    stderr: () => stderr,
    log: () => readFile(logPath, 'utf8').catch(() => ''),
    async stop() {
      if (done === undefined) child.kill('SIGKILL');
      await exited;
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
  if (options.waitReady === false) return sim;

  const client = new ChApiClient(socketPath, { timeouts: { default: 1_000 } });
  try {
    await pollUntil(
      'the CH simulator to answer vmm.ping',
      async () => {
        if (done !== undefined)
          throw new Error(`simulator exited early (${JSON.stringify(done)}): ${stderr}`);
        return (await client.ping()).version;
      },
      { timeoutMs: 10_000, intervalMs: 25 },
    );
  } catch (error) {
    const log = await sim.log();
    await sim.stop();
    throw new Error(`CH simulator did not come up: ${stderr}\n${log}`, { cause: error });
  } finally {
    await client.close();
  }
  return sim;
}

/**
 * A raw call over a CH API socket, bypassing the client (any method, bodies it refuses,
 * responses unparsed). `endpoint` is under /api/v1, or a whole path when it starts with '/'.
 */
export function rawChCall(
  socketPath: string,
  method: string,
  endpoint: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    const path = endpoint.startsWith('/') ? endpoint : `/api/v1/${endpoint}`;
    const req = request({ socketPath, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const MIB = 1024 * 1024;

/** A small VmConfig shaped like the driver's, for simulator tests (the simulator never opens the paths). */
export function testVmConfig(overrides: Partial<VmConfig> = {}): VmConfig {
  return {
    cpus: { boot_vcpus: 1, max_vcpus: 2 },
    memory: { size: 128 * MIB, hotplug_size: 128 * MIB, shared: true, thp: false },
    payload: { kernel: '/nonexistent/vmlinux', cmdline: 'console=ttyS0' },
    disks: [{ path: '/nonexistent/rootfs.img', id: 'rootfs' }],
    net: [{ tap: 'tap0', mac: '02:fc:00:00:00:05', id: 'net0' }],
    rng: { src: '/dev/urandom' },
    balloon: { size: 0, deflate_on_oom: true, free_page_reporting: true },
    serial: { mode: 'Null' },
    console: { mode: 'Off' },
    ...overrides,
  };
}
