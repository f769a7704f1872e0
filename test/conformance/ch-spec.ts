import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

/** The repository root. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Where the official Cloud Hypervisor OpenAPI spec may be: HANGAR_CH_SPEC first, then ../shared/specs. */
export const CH_SPEC_CANDIDATES = [
  ...(process.env.HANGAR_CH_SPEC ? [resolve(process.env.HANGAR_CH_SPEC)] : []),
  resolve(REPO_ROOT, '..', 'shared', 'specs', 'cloud-hypervisor.yaml'),
];

/** The spec to check against: read where it lives, never copied into the repo; undefined when none is there. */
export const CH_SPEC_PATH: string | undefined = CH_SPEC_CANDIDATES.find((path) => existsSync(path));

/** Validators for one spec: request bodies and JSON responses, keyed by "METHOD endpoint". */
export interface ChSpecValidators {
  requestBody: Map<string, { validate: ValidateFunction; required: boolean; schemaName: string }>;
  response: Map<string, ValidateFunction>;
}

// OpenAPI's integer formats, which JSON Schema does not know; checked for range.
const INT_FORMATS: Record<string, [number, number]> = {
  int8: [-(2 ** 7), 2 ** 7 - 1],
  int16: [-(2 ** 15), 2 ** 15 - 1],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint8: [0, 2 ** 8 - 1],
  uint16: [0, 2 ** 16 - 1],
  uint32: [0, 2 ** 32 - 1],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

/** Loads the spec and compiles a validator per request body and per JSON response. */
export async function loadChSpec(path: string): Promise<ChSpecValidators> {
  const spec = parse(await readFile(path, 'utf8')) as OpenApiDocument;
  // strictSchema off: OpenAPI keywords such as `example` and `deprecated` are not JSON Schema.
  const ajv = new Ajv({ strictSchema: false, allErrors: true });
  const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
  addFormats(ajv);
  for (const [name, [min, max]] of Object.entries(INT_FORMATS)) {
    ajv.addFormat(name, {
      type: 'number',
      validate: (n: number) => Number.isInteger(n) && n >= min && n <= max,
    });
  }
  // The whole components tree under one id, so the spec's '#/components/schemas/X' refs resolve.
  ajv.addSchema({ $id: 'ch-spec', components: { schemas: toJsonSchema(spec.components.schemas) } });
  const compile = (ref: string) => ajv.compile({ $ref: `ch-spec${ref}` });

  const validators: ChSpecValidators = { requestBody: new Map(), response: new Map() };
  for (const [route, methods] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const key = `${method.toUpperCase()} ${route.replace(/^\//, '')}`;
      const bodyRef = operation.requestBody?.content?.['application/json']?.schema?.$ref;
      if (bodyRef !== undefined) {
        validators.requestBody.set(key, {
          validate: compile(bodyRef),
          required: operation.requestBody?.required ?? false,
          schemaName: bodyRef.split('/').at(-1) ?? bodyRef,
        });
      }
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const ref = response.content?.['application/json']?.schema?.$ref;
        if (ref !== undefined) validators.response.set(`${key} ${status}`, compile(ref));
      }
    }
  }
  return validators;
}

/** Ajv's errors as one readable line each. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (e) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

// OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes a type union with null.
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key !== 'nullable') out[key] = toJsonSchema(value);
  }
  if ((node as { nullable?: boolean }).nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, unknown> };
}

interface OpenApiOperation {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: { $ref?: string } }> };
  responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
