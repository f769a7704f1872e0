import { execa } from 'execa';

/** Detaches every loop device whose backing file lies under `dir` (cleanup after a failed test). */
export async function detachLoopsUnder(dir: string): Promise<void> {
  const { stdout } = await execa('losetup', ['-l', '-n', '-O', 'NAME,BACK-FILE'], { reject: false });
  for (const line of stdout.split('\n')) {
    const [device, file] = line.trim().split(/\s+/, 2);
    if (device && file?.startsWith(dir)) await execa('losetup', ['-d', device], { reject: false });
  }
}
