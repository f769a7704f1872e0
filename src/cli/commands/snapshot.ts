import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { ValidationError } from '../../errors/index.ts';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, collect, FleetFlags, LabelFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { addWaitOptions, reportJob, WaitFlags } from './job-output.ts';
import { formatAge, formatBytes, formatTable, printJson } from './output.ts';

const TakeFlags = FleetFlags.extend({
  '<id>': Identifier,
  snapshotId: Identifier.optional(),
  series: Identifier.optional(),
  resume: z.boolean().default(true),
  ...WaitFlags,
});

const LsFlags = FleetFlags.extend({
  sandbox: Identifier.optional(),
  host: Identifier.optional(),
  batch: Identifier.optional(),
  group: Identifier.optional(),
  series: Identifier.optional(),
  label: LabelFlags,
});

const RmFlags = FleetFlags.extend({ '<id>': Identifier, ...WaitFlags });

const ExportFlags = FleetFlags.extend({ '<id>': Identifier, output: z.string().min(1).optional() });

const ImportFlags = FleetFlags.extend({
  '<file>': z.string().min(1),
  host: Identifier.optional(),
  snapshotId: Identifier.optional(),
});

/**
 * `hangar snapshot`: take one (`hangar snapshot <sandbox>`, the default), list them
 * (`hangar snapshot ls`), delete one (`hangar snapshot rm <snapshot>`), and write one to an
 * archive or take one from it (`export`, `import`).
 */
export function registerSnapshot(program: Command): void {
  const group = program.command('snapshot').description('take, list, delete, export and import snapshots');
  registerTake(group);
  registerList(group);
  registerRemove(group);
  registerExport(group);
  registerImport(group);
}

function registerTake(group: Command): void {
  const command = group
    .command('take', { isDefault: true })
    .argument('<id>', 'the sandbox id')
    .description('snapshot a sandbox (memory, device state and disk together); it keeps running afterwards')
    .option('--snapshot-id <id>', 'the snapshot’s id (default: generated)')
    .option('--series <name>', 'the retention series it belongs to')
    .option('--no-resume', 'leave the sandbox paused after the snapshot');
  addWaitOptions(addFleetOptions(command)).action(async (id: string, raw: Record<string, unknown>) => {
    const flags = parseFlags('snapshot', TakeFlags, { ...raw, '<id>': id });
    await withClient(flags, async (client) => {
      const handle = await client.snapshot(id, {
        resumeAfter: flags.resume,
        ...(flags.snapshotId === undefined ? {} : { snapshotId: flags.snapshotId }),
        ...(flags.series === undefined ? {} : { series: flags.series }),
      });
      await reportJob(handle, { wait: flags.wait, timeoutSeconds: flags.timeout, json: flags.json });
    });
  });
}

function registerList(group: Command): void {
  const command = group
    .command('ls')
    .description('list snapshots, newest first: id, sandbox, host, sizes, age')
    .option('--sandbox <id>', 'only this sandbox’s')
    .option('--host <id>', 'only those on this host')
    .option('--batch <id>', 'only this batch’s')
    .option('--group <id>', 'only this group’s')
    .option('--series <name>', 'only this retention series’')
    .option('--label <key=value>', 'only those taken of sandboxes with this label (repeatable)', collect);
  addFleetOptions(command).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('snapshot ls', LsFlags, raw);
    await withClient(flags, async (client) => {
      const snapshots = await client.listSnapshots({
        ...(flags.sandbox === undefined ? {} : { sandboxId: flags.sandbox }),
        ...(flags.host === undefined ? {} : { hostId: flags.host }),
        ...(flags.batch === undefined ? {} : { batchId: flags.batch }),
        ...(flags.group === undefined ? {} : { groupId: flags.group }),
        ...(flags.series === undefined ? {} : { series: flags.series }),
        labels: flags.label,
      });
      if (flags.json) {
        printJson(snapshots);
        return;
      }
      if (snapshots.length === 0) {
        console.log('no snapshots');
        return;
      }
      const now = Date.now();
      console.log(
        formatTable(
          ['id', 'sandbox', 'host', 'memory', 'disk', 'age', 'batch/group/series'],
          snapshots.map((s) => [
            s.snapshotId,
            s.sandboxId,
            s.hostId,
            formatBytes(s.memoryBytes),
            formatBytes(s.diskBytes),
            formatAge(s.createdAt, now),
            s.batchId ?? s.groupId ?? s.series ?? '-',
          ]),
        ),
      );
    });
  });
}

function registerRemove(group: Command): void {
  const command = group
    .command('rm')
    .argument('<id>', 'the snapshot id')
    .description(
      'delete a snapshot from its host: files, record and ledger (it waits for restores reading it)',
    );
  addWaitOptions(addFleetOptions(command)).action(async (id: string, raw: Record<string, unknown>) => {
    const flags = parseFlags('snapshot rm', RmFlags, { ...raw, '<id>': id });
    await withClient(flags, async (client) => {
      const handle = await client.deleteSnapshot(id);
      await reportJob(handle, { wait: flags.wait, timeoutSeconds: flags.timeout, json: flags.json });
    });
  });
}

function registerExport(group: Command): void {
  const command = group
    .command('export')
    .argument('<id>', 'the snapshot id')
    .description(
      'write a snapshot’s archive (sparse, checksummed) to stdout or --output; needs the job key (HANGAR_JOB_KEY or --job-key-file)',
    )
    .option('--output <file>', 'write the archive here instead of stdout');
  addFleetOptions(command).action(async (id: string, raw: Record<string, unknown>) => {
    const flags = parseFlags('snapshot export', ExportFlags, { ...raw, '<id>': id });
    if (flags.output === undefined && process.stdout.isTTY) {
      throw new ValidationError('the archive is binary: redirect stdout to a file, or give --output <file>', {
        field: 'output',
      });
    }
    await withClient(flags, async (client) => {
      const { snapshot, archive } = await client.exportSnapshot(id);
      const sink =
        flags.output === undefined ? process.stdout : createWriteStream(flags.output, { mode: 0o600 });
      await pipeline(archive, sink);
      const where = flags.output ?? 'stdout';
      process.stderr.write(
        `snapshot ${snapshot.snapshotId} (from host ${snapshot.hostId}) written to ${where}\n`,
      );
    });
  });
}

function registerImport(group: Command): void {
  const command = group
    .command('import')
    .argument('<file>', 'an archive from `hangar snapshot export` (- for stdin)')
    .description(
      'keep an archive as a snapshot of a host (the live compatible one with the most free disk, or --host); needs the job key',
    )
    .option('--host <id>', 'the host to keep it on')
    .option('--snapshot-id <id>', 'keep it under this id instead of the archive’s');
  addFleetOptions(command).action(async (file: string, raw: Record<string, unknown>) => {
    const flags = parseFlags('snapshot import', ImportFlags, { ...raw, '<file>': file });
    await withClient(flags, async (client) => {
      const source = file === '-' ? process.stdin : createReadStream(file);
      const answer = await client.importSnapshot(source, {
        ...(flags.host === undefined ? {} : { hostId: flags.host }),
        ...(flags.snapshotId === undefined ? {} : { snapshotId: flags.snapshotId }),
      });
      if (flags.json) {
        printJson(answer);
        return;
      }
      const s = answer.snapshot;
      console.log(
        `snapshot ${s.snapshotId} ${answer.outcome === 'already' ? 'was already' : 'is now'} on host ${s.hostId} (${formatBytes(s.memoryBytes + s.diskBytes)} used, ${formatBytes(answer.archiveBytes)} read)`,
      );
    });
  });
}
