import type { JobPayload } from '../../queues/job-schemas.ts';
import type { HostContext } from '../host-context.ts';
import { createSandbox } from './create.ts';
import { deleteSnapshotOp } from './delete-snapshot.ts';
import { destroySandbox } from './destroy.ts';
import type { OperationResult, OperationRun } from './operation.ts';
import { pauseSandbox, resumeSandbox } from './pause-resume.ts';
import { restoreSandbox } from './restore.ts';
import { snapshotSandbox } from './snapshot.ts';

export type { OperationResult, OperationRun } from './operation.ts';

/** Runs the operation a payload names. */
export function runOperation(
  ctx: HostContext,
  payload: JobPayload,
  run: OperationRun,
): Promise<OperationResult> {
  switch (payload.op) {
    case 'create':
      return createSandbox(ctx, payload, run);
    case 'pause':
      return pauseSandbox(ctx, payload, run);
    case 'resume':
      return resumeSandbox(ctx, payload, run);
    case 'snapshot':
      return snapshotSandbox(ctx, payload, run);
    case 'restore':
      return restoreSandbox(ctx, payload, run);
    case 'destroy':
      return destroySandbox(ctx, payload, run);
    case 'delete-snapshot':
      return deleteSnapshotOp(ctx, payload, run);
  }
}
