import { stat } from 'node:fs/promises';
import { NotFoundError } from '../errors/index.ts';

/** How much of a disk file is really on the host's disk, and how large it claims to be. */
export interface DiskSpace {
  /**
   * st_blocks x 512: bytes the file system really allocated to this file. Extents shared by
   * reflink with another file count in full for each file that shares them, so a sum over
   * reflinked files overstates the host's use; the file system's own free space is the truth.
   */
  usedBytes: number;
  /** st_size: the apparent size, which says nothing about a sparse file's real cost. */
  apparentBytes: number;
}

/** Used and apparent bytes of a file; NotFoundError when it does not exist. */
export async function diskSpace(path: string): Promise<DiskSpace> {
  try {
    const stats = await stat(path);
    return { usedBytes: stats.blocks * 512, apparentBytes: stats.size };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`disk file ${path} does not exist`, { path });
    }
    throw error;
  }
}

/** Bytes really used by a disk file (st_blocks x 512), the figure hangar reports. */
export async function diskUsage(path: string): Promise<number> {
  return (await diskSpace(path)).usedBytes;
}
