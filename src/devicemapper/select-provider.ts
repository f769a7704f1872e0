import { z } from 'zod';
import { IllegalStateError, ValidationError } from '../errors/index.ts';
import type { CommandRunner } from '../exec/command-runner.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { deviceMapperAvailable } from './dm/provider.ts';
import { FileCowProvider } from './file/provider.ts';
import type { RootDiskProvider } from './root-disk-provider.ts';

/** Which root disk provider a worker asked for; 'auto' decides from the host. */
export type RootDiskKind = 'auto' | 'file' | 'device-mapper';

/** Options of selectRootDiskProvider. */
export interface SelectRootDiskOptions {
  /** Default 'auto': device-mapper when the host has it, else file. */
  kind?: RootDiskKind;
  /** Directory the chosen provider owns. */
  dataDir: string;
  runner?: CommandRunner;
  logger?: Logger;
  /** The device-mapper control node whose presence means dm works; default /dev/mapper/control. */
  dmControlPath?: string;
}

/** The chosen provider and, for logs and the README, why it was chosen. */
export interface SelectedRootDisk {
  provider: RootDiskProvider;
  reason: string;
}

/** The node the device-mapper driver creates; without it dmsetup cannot work. */
export const DM_CONTROL = '/dev/mapper/control';

const Kind = z.enum(['auto', 'file', 'device-mapper']).default('auto');

/**
 * Picks the host's root disk provider: 'auto' takes device-mapper when `/dev/mapper/control`
 * exists, else the file provider; an explicit 'device-mapper' on a host without it fails at
 * once (a worker should not start and fail every create). The dm code is imported only when
 * chosen. The file provider's reason says whether its disks will be reflinks or sparse copies.
 */
export async function selectRootDiskProvider(options: SelectRootDiskOptions): Promise<SelectedRootDisk> {
  const parsedKind = Kind.safeParse(options.kind);
  if (!parsedKind.success) throw ValidationError.fromZod('disk kind', parsedKind.error);
  const kind = parsedKind.data;
  const log = options.logger ?? silentLogger;
  const control = options.dmControlPath ?? DM_CONTROL;
  // The node can exist without the driver (dmsetup creates it); only opening it proves dm works.
  const hasDm = await deviceMapperAvailable(control);
  const common = { dataDir: options.dataDir, runner: options.runner, logger: options.logger };

  let selected: SelectedRootDisk;
  if (kind === 'device-mapper' || (kind === 'auto' && hasDm)) {
    if (!hasDm) {
      throw new IllegalStateError(
        `disk kind 'device-mapper' asked for, but ${control} cannot be opened (no device-mapper driver)`,
        {
          kind,
          control,
        },
      );
    }
    const { DeviceMapperProvider } = await import('./dm/provider.ts');
    selected = {
      provider: new DeviceMapperProvider(common),
      reason:
        kind === 'auto'
          ? `auto: ${control} opens, so dm-snapshot`
          : 'configured: device-mapper (dm-snapshot)',
    };
  } else {
    const provider = new FileCowProvider(common);
    const method = await provider.cloneMethod();
    const how = method === 'reflink' ? 'reflinked copies' : 'sparse copies (no reflink on this file system)';
    selected = {
      provider,
      reason:
        kind === 'auto'
          ? `auto: ${control} is absent or unusable, so file CoW, ${how}`
          : `configured: file CoW, ${how}`,
    };
  }
  log.info({ kind: selected.provider.kind, reason: selected.reason }, 'root disk provider selected');
  return selected;
}
