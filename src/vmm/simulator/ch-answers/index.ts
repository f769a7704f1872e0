// What Cloud Hypervisor answers, endpoint by endpoint and state by state: the table the
// simulator is held to (test/vmm/simulator/ch-answers.test.ts checks every cell).
import type { ChAnswer } from './cell.ts';
import { ADD_DEVICE_ANSWERS, REMOVE_DEVICE_ANSWERS, RESIZE_ANSWERS } from './devices.ts';
import { LIFECYCLE_ANSWERS } from './lifecycle.ts';
import { RECEIVE_MIGRATION_ANSWERS, SEND_MIGRATION_ANSWERS } from './migration.ts';
import { REQUEST_ANSWERS } from './requests.ts';
import { RESTORE_ANSWERS, SNAPSHOT_ANSWERS } from './snapshot-restore.ts';

export {
  CH_SOURCE,
  CH_STATES,
  type ChAfter,
  type ChAnswer,
  type ChSnapshotFile,
  type ChState,
  FROM_API,
  UNCHANGED,
  VM_CONFIG,
} from './cell.ts';

/** Every cell of the table, read from CH_SOURCE. */
export const CH_ANSWERS: readonly ChAnswer[] = [
  ...LIFECYCLE_ANSWERS,
  ...SNAPSHOT_ANSWERS,
  ...RESTORE_ANSWERS,
  ...ADD_DEVICE_ANSWERS,
  ...REMOVE_DEVICE_ANSWERS,
  ...RESIZE_ANSWERS,
  ...SEND_MIGRATION_ANSWERS,
  ...RECEIVE_MIGRATION_ANSWERS,
  ...REQUEST_ANSWERS,
];
