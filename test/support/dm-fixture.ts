import { realpath, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceMapperProvider } from '../../src/devicemapper/dm/index.ts';
import { LoopRegistry } from '../../src/devicemapper/loop-registry.ts';
import type { BaseImage } from '../../src/devicemapper/root-disk-provider.ts';
import { DmHostModel } from './dm-host-model.ts';
import { makeTempDir } from './temp-dir.ts';

/** Size of the fixture's base image: 8 MiB, 16384 sectors. */
export const BASE_BYTES = 8 * 1024 * 1024;

/** A DeviceMapperProvider on a DmHostModel [recorded commands], over a real temp dir. */
export interface DmFixture {
  /** Real path of the temp dir (paths reach losetup resolved). */
  root: string;
  base: BaseImage;
  dataDir: string;
  host: DmHostModel;
  provider: DeviceMapperProvider;
  /** A sandbox's CoW path. */
  cow(id: string): string;
  /** The snapshot table the provider must create over these loops. */
  table(baseLoop: string, cowLoop: string): string;
  /** A provider with a fresh loop registry, as after a worker restart; holders come from the model. */
  restartedProvider(retry?: { attempts: number; delayMs: number }): DeviceMapperProvider;
  remove(): Promise<void>;
}

/** A sparse base image in a new temp dir, a model host and a provider retrying 3 x 1 ms. */
export async function makeDmFixture(): Promise<DmFixture> {
  const { path, remove } = await makeTempDir('hangar-dm-rec-');
  const root = await realpath(path);
  const base = { templateId: 'tpl', imagePath: join(root, 'base.img') };
  await writeFile(base.imagePath, '');
  await truncate(base.imagePath, BASE_BYTES);
  const dataDir = join(root, 'disks');
  const host = new DmHostModel();
  const restartedProvider = (retry = { attempts: 3, delayMs: 1 }): DeviceMapperProvider => {
    const loops = new LoopRegistry({ ...retry, runner: host.runner, holders: async (d) => host.holders(d) });
    return new DeviceMapperProvider({ ...retry, dataDir, runner: host.runner, loops });
  };
  return {
    root,
    base,
    dataDir,
    host,
    provider: restartedProvider(),
    cow: (id) => join(dataDir, `${id}.cow`),
    table: (baseLoop, cowLoop) => `0 ${BASE_BYTES / 512} snapshot ${baseLoop} ${cowLoop} P 8`,
    restartedProvider,
    remove,
  };
}
