import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Identifier } from '../../validation/identifiers.ts';
import { TEMP_SUFFIX } from './reflink.ts';

/** A file in the disks directory that belongs to a sandbox: its CoW or a copy's leftover temp. */
export interface DiskFileName {
  sandboxId: string;
  kind: 'cow' | 'temp';
}

const COW_SUFFIX = '.cow';

/** Where the file provider keeps its disks: `<dataDir>/disks/<sandboxId>.cow`. */
export class FileDiskLayout {
  readonly dataDir: string;
  readonly disksDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.disksDir = join(dataDir, 'disks');
  }

  /** The sandbox's CoW file (the id must already be checked). */
  cowPath(sandboxId: string): string {
    return join(this.disksDir, `${sandboxId}${COW_SUFFIX}`);
  }

  /** Which sandbox a file name in the disks directory belongs to; undefined for foreign names. */
  static parse(name: string): DiskFileName | undefined {
    const temp = TEMP_SUFFIX.test(name);
    const stem = temp ? name.replace(TEMP_SUFFIX, '') : name;
    if (!stem.endsWith(COW_SUFFIX)) return undefined;
    const id = Identifier.safeParse(stem.slice(0, -COW_SUFFIX.length));
    return id.success ? { sandboxId: id.data, kind: temp ? 'temp' : 'cow' } : undefined;
  }

  /** The names in the disks directory that belong to sandboxes; none when it does not exist. */
  async entries(): Promise<(DiskFileName & { path: string })[]> {
    let names: string[];
    try {
      names = await readdir(this.disksDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names.flatMap((name) => {
      const parsed = FileDiskLayout.parse(name);
      return parsed === undefined ? [] : [{ ...parsed, path: join(this.disksDir, name) }];
    });
  }

  /**
   * Removes the sandbox's leftover temp copies (a crash mid-copy). Safe only while no copy
   * for that sandbox runs, which the worker's per-sandbox serialization guarantees.
   */
  async removeTemps(sandboxId: string): Promise<string[]> {
    const temps = (await this.entries()).filter((e) => e.sandboxId === sandboxId && e.kind === 'temp');
    await Promise.all(temps.map((e) => rm(e.path, { force: true })));
    return temps.map((e) => e.path);
  }
}
