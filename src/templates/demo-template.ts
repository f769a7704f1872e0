import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TemplateCatalog } from './template-catalog.ts';

/** The id of the template `writeDemoTemplate` makes. */
export const DEMO_TEMPLATE_ID = 'base';

/**
 * Makes a demo template in `dir`: a placeholder kernel (the CH simulator never boots it; a
 * real cloud-hypervisor would refuse it) and a small sparse base image, and returns a catalog
 * holding it. Enough to run every lifecycle operation on the simulator.
 */
export async function writeDemoTemplate(
  dir: string,
  options: { imageMib?: number } = {},
): Promise<TemplateCatalog> {
  await mkdir(dir, { recursive: true });
  const kernelPath = join(dir, 'vmlinux');
  const imagePath = join(dir, 'base.img');
  await writeFile(kernelPath, 'placeholder kernel: the CH simulator does not boot guests\n');
  await writeFile(imagePath, 'hangar base image\n');
  await truncate(imagePath, (options.imageMib ?? 16) * 1024 * 1024);
  return new TemplateCatalog([{ templateId: DEMO_TEMPLATE_ID, kernelPath, imagePath }]);
}
