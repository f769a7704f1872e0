import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors/index.ts';
import { Identifier } from '../validation/identifiers.ts';

const AbsolutePath = z.string().regex(/^\/[^,\0]*$/, 'must be an absolute path without commas');

const EndpointPort = z.number().int().min(1).max(65_535).default(80);
const EndpointPath = z.string().regex(/^\/[A-Za-z0-9._/-]*$/);

/** What a sandbox of a template boots: kernel, optional initramfs, command line, base disk image. */
export const TemplateSpec = z
  .object({
    templateId: Identifier,
    kernelPath: AbsolutePath,
    initramfsPath: AbsolutePath.optional(),
    cmdline: z.string().max(2048).default('console=ttyS0 reboot=k panic=1'),
    imagePath: AbsolutePath,
    /**
     * An HTTP endpoint the guest answers once it is up; when set, a create or restore is
     * complete only when it answers through the sandbox's host address.
     */
    readiness: z
      .object({
        port: EndpointPort,
        path: EndpointPath.default('/'),
        /** Base wait; grows by `perGibMs` for every GiB of guest memory. */
        timeoutMs: z.number().int().min(100).default(30_000),
        perGibMs: z.number().int().min(0).default(15_000),
      })
      .strict()
      .optional(),
    /**
     * An HTTP endpoint that takes fresh random bytes (POST, 128 lower-case hex digits) and
     * reseeds the guest's CRNG with them at once, answering 200 with a non-empty body. When
     * set, a VM that did not boot itself (a restore) is handed out only after it accepted
     * them; without it such a VM keeps its source's RNG state (the guest kernel's vmgenid
     * reseed aside).
     */
    entropy: z
      .object({
        port: EndpointPort,
        path: EndpointPath,
        /** How long the worker retries before the step fails. */
        timeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .optional(),
  })
  .strict();
export type TemplateSpec = z.infer<typeof TemplateSpec>;

/** The templates a host can boot, by id. */
export class TemplateCatalog {
  readonly #templates: Map<string, TemplateSpec>;

  constructor(templates: Iterable<z.input<typeof TemplateSpec>>) {
    this.#templates = new Map();
    for (const input of templates) {
      const parsed = TemplateSpec.safeParse(input);
      if (!parsed.success) throw ValidationError.fromZod('template', parsed.error);
      this.#templates.set(parsed.data.templateId, parsed.data);
    }
  }

  /** Loads `{ templates: [...] }` from a YAML or JSON file. */
  static async fromFile(path: string): Promise<TemplateCatalog> {
    const document = z
      .object({ templates: z.array(z.unknown()) })
      .safeParse(parseYaml(await readFile(path, 'utf8')));
    if (!document.success) throw ValidationError.fromZod(`templates file ${path}`, document.error);
    return new TemplateCatalog(document.data.templates as z.input<typeof TemplateSpec>[]);
  }

  get(templateId: string): TemplateSpec {
    const template = this.#templates.get(templateId);
    if (template === undefined) throw new NotFoundError(`unknown template ${templateId}`, { templateId });
    return template;
  }

  ids(): string[] {
    return [...this.#templates.keys()];
  }
}
