import { execa } from 'execa';

/** Loop devices whose backing file lies under `dir`, as `[device, backing file]`. */
export async function loopsUnder(dir: string): Promise<[string, string][]> {
  const { stdout } = await execa('losetup', ['-l', '-n', '-O', 'NAME,BACK-FILE'], { reject: false });
  return stdout.split('\n').flatMap((line) => {
    const [device, file] = line.trim().split(/\s+/, 2);
    return device && file?.startsWith(dir) ? [[device, file] as [string, string]] : [];
  });
}

/** Detaches every loop device whose backing file lies under `dir` (cleanup after a failed test). */
export async function detachLoopsUnder(dir: string): Promise<void> {
  for (const [device] of await loopsUnder(dir)) await execa('losetup', ['-d', device], { reject: false });
}
