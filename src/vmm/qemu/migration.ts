import { access, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, HangarError } from '../../errors/index.ts';
import { pollUntil } from '../../util/poll.ts';
import { PRIVATE_FILE_MODE } from '../private-files.ts';
import { MEMORY_FILE, snapshotMigrationUri } from './migration-uri.ts';
import type { QmpClient } from './qmp-client.ts';
import type { MigrationStatus } from './qmp-schemas.ts';

// QEMU 7.2 caps migration at 32 MiB/s by default (it assumes a live VM sharing a link);
// a paused VM writing to a local file should go as fast as the disk takes it.
const MAX_BANDWIDTH_BYTES_PER_S = 100 * 1024 ** 3;

const IN_PROGRESS: ReadonlySet<MigrationStatus> = new Set([
  'setup',
  'active',
  'cancelling',
  'pre-switchover',
  'device',
  'wait-unplug',
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover',
]);

/** How long a snapshot or restore of `memoryMib` may take: generous, since TCG and slow disks count. */
export function migrationTimeoutMs(memoryMib: number): number {
  return 30_000 + memoryMib * 50;
}

/** A migration QEMU reports as failed or cancelled; carries its error-desc. */
export class MigrationFailedError extends HangarError {
  constructor(status: string, desc: string | undefined) {
    super(ErrorCode.VmmApi, `QEMU migration ${status}${desc === undefined ? '' : `: ${desc}`}`, {
      details: { status, desc },
    });
  }
}

/**
 * Cancels a migration still running from an earlier attempt (its staging directory is gone),
 * and waits until QEMU has let go of it: a new `migrate` is refused while one runs.
 */
export async function cancelStaleMigration(qmp: QmpClient, timeoutMs = 10_000): Promise<void> {
  const { status } = await qmp.queryMigrate();
  if (status === undefined || !IN_PROGRESS.has(status)) return;
  await qmp.execute('migrate_cancel');
  await pollUntil(
    'the stale migration to end',
    async () => {
      const now = await qmp.queryMigrate();
      return now.status !== undefined && IN_PROGRESS.has(now.status) ? undefined : true;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/** Polls query-migrate until 'completed'; throws MigrationFailedError on failed/cancelled, TimeoutError at the deadline. */
export async function waitMigrationCompleted(qmp: QmpClient, timeoutMs: number): Promise<void> {
  const final = await pollUntil(
    'the QEMU migration to complete',
    async () => {
      const info = await qmp.queryMigrate();
      const done = info.status === 'completed' || info.status === 'failed' || info.status === 'cancelled';
      return done ? info : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  );
  if (final.status !== 'completed') {
    throw new MigrationFailedError(final.status ?? 'none', final['error-desc']);
  }
}

/**
 * Streams the (paused) VM's memory and device state into `stagingDir`/memory, waits until
 * the file is complete on disk, and makes it 0600 (QEMU's shell and cat create it with QEMU's umask).
 */
export async function migrateToFile(qmp: QmpClient, stagingDir: string, timeoutMs: number): Promise<void> {
  const uri = snapshotMigrationUri(stagingDir);
  await cancelStaleMigration(qmp);
  // An earlier attempt's migration finished but its file was thrown away (the worker died
  // before renaming it): QEMU refuses to migrate a VM "paused due to previous migration", so
  // take it out of that state and pause it again. Nothing is captured in between.
  if ((await qmp.queryStatus()).status === 'postmigrate') {
    await qmp.execute('cont');
    await qmp.execute('stop');
  }
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MAX_BANDWIDTH_BYTES_PER_S });
  await qmp.execute('migrate', { uri });
  await waitMigrationCompleted(qmp, timeoutMs);
  // The renamed file is the proof cat has written everything (see snapshotMigrationUri).
  const memoryFile = join(stagingDir, MEMORY_FILE);
  await pollUntil('the snapshot memory file', () => access(memoryFile).then(() => true), {
    timeoutMs: 10_000,
    intervalMs: 20,
  });
  await chmod(memoryFile, PRIVATE_FILE_MODE);
}
