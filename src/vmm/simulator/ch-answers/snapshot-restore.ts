import {
  type ChAnswer,
  CONFIG_ONLY,
  cellsOf,
  FROM_API,
  OWNED,
  UNCHANGED,
  VM_ALREADY_CREATED,
  VM_MIGRATING,
  VM_NOT_RUNNING,
} from './cell.ts';

// vm.snapshot: lib.rs Vmm::vm_snapshot, vm.rs Vm::snapshot (Paused only) then Vm::send, which
// creates config.json, state.json (vm.rs) and memory-ranges (memory_manager.rs) in that order,
// each with create_new: an existing file is refused, and files created before it stay.
// migration/mod.rs url_to_path strips "file://" and needs an existing directory.
// vm.restore: lib.rs Vmm::vm_restore (refuses any config or VM), recv_vm_config, then the
// private vm_restore: recv_vm_state, Vm::new (memory_manager.rs fill_saved_regions opens
// memory-ranges). A failed restore deletes what it set up: the VMM is left with no VM.

const SNAPSHOT = 'The VM could not be snapshotted';
const RESTORE = 'The VM could not be restored';
const SEND = ['Cannot send VM snapshot', 'Failed to send migratable component snapshot'];
const EXISTS = 'File exists (os error 17)';
const MISSING = 'No such file or directory (os error 2)';
const SNAPSHOT_FILES = ['snap/config.json', 'snap/state.json', 'snap/memory-ranges'];

const into = (dir: string) => ({ destination_url: `file://${dir}` });
const from = (dir: string, extra: Record<string, unknown> = {}) => ({
  source_url: `file://${dir}`,
  ...extra,
});

const snapshot = cellsOf('PUT', 'vm.snapshot', 'lib.rs Vmm::vm_snapshot; vm.rs Vm::snapshot and Vm::send');
const restore = cellsOf(
  'PUT',
  'vm.restore',
  'lib.rs Vmm::vm_restore; migration/mod.rs recv_vm_config, recv_vm_state',
);

/** vm.snapshot in every state, and into a directory that is missing or already holds a snapshot file. */
export const SNAPSHOT_ANSWERS: readonly ChAnswer[] = [
  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    snapshot(s, {
      body: into('{work}/snap'),
      given: { paths: ['snap/'] },
      status: 500,
      chain: [FROM_API, SNAPSHOT, VM_NOT_RUNNING],
      after: UNCHANGED[s],
    }),
  ),
  snapshot('running', {
    body: into('{work}/snap'),
    given: { paths: ['snap/'] },
    status: 500,
    chain: [
      FROM_API,
      SNAPSHOT,
      'Cannot snapshot VM',
      'Failed to snapshot migratable component',
      'Trying to snapshot while VM is running',
    ],
    after: 'Running',
  }),
  ...(['paused', 'restored'] as const).map((s) =>
    snapshot(s, {
      body: into('{work}/snap'),
      given: { paths: ['snap/'] },
      status: 204,
      after: 'Paused',
      files: SNAPSHOT_FILES,
    }),
  ),
  snapshot('migrating', {
    body: into('{work}/snap'),
    given: { paths: ['snap/'] },
    status: 500,
    chain: [FROM_API, SNAPSHOT, VM_MIGRATING],
    after: 'Running',
  }),
  snapshot('paused', {
    body: into('{work}/missing'),
    status: 500,
    chain: [FROM_API, SNAPSHOT, ...SEND, 'Destination is not a directory: "{work}/missing"'],
    after: 'Paused',
    why: 'url_to_path; the path is printed with Rust Debug quoting',
  }),
  snapshot('paused', {
    body: { destination_url: '{work}/snap' },
    given: { paths: ['snap/'] },
    status: 500,
    chain: [FROM_API, SNAPSHOT, ...SEND, 'Could not extract path from URL: {work}/snap'],
    after: 'Paused',
  }),
  snapshot('paused', {
    body: into('{work}/snap'),
    given: { paths: ['snap/', 'snap/config.json'] },
    status: 500,
    chain: [FROM_API, SNAPSHOT, ...SEND, 'Error creating VM config snapshot file', EXISTS],
    after: 'Paused',
    files: ['snap/config.json'],
  }),
  snapshot('paused', {
    body: into('{work}/snap'),
    given: { paths: ['snap/', 'snap/state.json'] },
    status: 500,
    chain: [FROM_API, SNAPSHOT, ...SEND, 'Error creating VM state snapshot file', EXISTS],
    after: 'Paused',
    files: ['snap/config.json', 'snap/state.json'],
  }),
  snapshot('paused', {
    body: into('{work}/snap'),
    given: { paths: ['snap/', 'snap/memory-ranges'] },
    status: 500,
    chain: [
      FROM_API,
      SNAPSHOT,
      ...SEND,
      'Error creating memory snapshot file "{work}/snap/memory-ranges"',
      EXISTS,
    ],
    after: 'Paused',
    files: SNAPSHOT_FILES,
  }),
];

/** vm.restore in every state (a VMM with a config or a VM refuses), and from incomplete snapshots. */
export const RESTORE_ANSWERS: readonly ChAnswer[] = [
  restore('no-vm', { body: from('{snapshot}'), status: 204, after: 'Paused' }),
  restore('no-vm', { body: from('{snapshot}', { resume: true }), status: 204, after: 'Running' }),
  ...[...CONFIG_ONLY, ...OWNED].map((s) =>
    restore(s, {
      body: from('{snapshot}'),
      status: 500,
      chain: [FROM_API, RESTORE, VM_ALREADY_CREATED],
      after: UNCHANGED[s],
      why: 'a stored config alone (after vm.create or vm.shutdown) is enough to refuse',
    }),
  ),
  restore('migrating', {
    body: from('{snapshot}'),
    status: 500,
    chain: [FROM_API, RESTORE, VM_MIGRATING],
    after: 'Running',
  }),
  restore('no-vm', {
    body: from('{snapshot}', { memory_restore_mode: 'OnDemand', prefault: true }),
    status: 400,
    chain: [
      FROM_API,
      RESTORE,
      'Failed to validate config',
      "'prefault' cannot be combined with 'memory_restore_mode=ondemand'",
    ],
    after: 'no VM',
    why: 'config.rs RestoreConfig::validate, after config.json is read; ConfigValidation is 400',
  }),
  restore('no-vm', {
    body: from('{work}/missing'),
    status: 500,
    chain: [
      FROM_API,
      RESTORE,
      'Cannot restore VM',
      'Failed to send migratable component snapshot',
      'Destination is not a directory: "{work}/missing"',
    ],
    after: 'no VM',
    why: 'url_to_path reports MigrateSend even on the receiving side',
  }),
  restore('no-vm', {
    body: from('{work}/snap'),
    given: { snapshotCopy: { without: 'config.json' } },
    status: 500,
    chain: [
      FROM_API,
      RESTORE,
      'Cannot restore VM',
      'Failed to receive migratable component snapshot',
      'Error opening VM config snapshot file "{work}/snap/config.json"',
      MISSING,
    ],
    after: 'no VM',
  }),
  restore('no-vm', {
    body: from('{work}/snap'),
    given: { snapshotCopy: { without: 'state.json' } },
    status: 500,
    chain: [
      FROM_API,
      RESTORE,
      'Cannot restore VM',
      'Failed to receive migratable component snapshot',
      'Error opening VM state snapshot file "{work}/snap/state.json"',
      MISSING,
    ],
    after: 'no VM',
  }),
  restore('no-vm', {
    body: from('{work}/snap'),
    given: { snapshotCopy: { without: 'memory-ranges' } },
    status: 500,
    chain: [FROM_API, RESTORE, 'Memory manager error', 'Error opening snapshot file', MISSING],
    after: 'no VM',
    why: 'Vm::new maps the memory manager error (fill_saved_regions, Copy mode)',
  }),
];
