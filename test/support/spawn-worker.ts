import { execa, type ResultPromise } from 'execa';
import type { WorkerConfigInput } from '../../src/config/worker-config.ts';

const WORKER_SCRIPT = new URL('./worker-process.ts', import.meta.url).pathname;

/**
 * Starts a host worker in its own process (test/support/worker-process.ts) and resolves once it
 * is consuming, so a test can SIGKILL it mid-job. `guest` serves the real test guest (QEMU).
 */
export function spawnWorker(
  config: WorkerConfigInput,
  templatesDir: string,
  options: { guest?: boolean } = {},
): Promise<{ child: ResultPromise }> {
  const argv = [WORKER_SCRIPT, JSON.stringify(config), templatesDir, ...(options.guest ? ['guest'] : [])];
  const child = execa(process.execPath, argv, { reject: false, cleanup: true });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve({ child });
    });
    void child.then((result) => reject(new Error(`worker exited early: ${result.stderr}`)));
  });
}
