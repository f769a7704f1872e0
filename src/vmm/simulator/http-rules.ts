import { SimApiFailure } from './ch-errors.ts';
import { isSimEndpoint, SIM_ENDPOINTS, type SimEndpoint } from './endpoints.ts';
import { BODIES } from './request-bodies.ts';
import { serdeMissingField, serdeSyntaxError } from './serde-messages.ts';

/** A request CH's HTTP layer hands on to the VMM: the endpoint and its parsed body. */
export interface SimCall {
  endpoint: SimEndpoint;
  method: 'GET' | 'PUT';
  body: unknown;
}

/** A refusal whose body is not a chain: micro_http's own 400, sent verbatim. */
export class RawAnswer extends SimApiFailure {
  readonly text: string;

  constructor(status: number, text: string) {
    super(status, []);
    this.text = text;
  }
}

const API_ROOT = '/api/v1/';
const PARSED_METHODS = ['GET', 'PUT', 'PATCH', 'DELETE'];
const unsupportedMethod = () =>
  new RawAnswer(
    400,
    '{ "error": "Invalid HTTP Method: Unsupported HTTP method.\nAll previous unanswered requests will be dropped." }',
  );
const badRequest = () => new SimApiFailure(400, ['Bad Request']);
const cannotDeserialize = (why: string) => new SimApiFailure(400, ['Failed to deserialize JSON', why]);

/**
 * CH's request-level rules, before the VMM is asked (vmm/src/api/http and micro_http): the
 * method must parse, the path must be a route exactly (no query string, no trailing slash),
 * the method must be the route's, and a body must be there exactly when the call takes one
 * and deserialize. Throws the answer (SimApiFailure or RawAnswer) when a rule is broken.
 */
export function routeRequest(method: string, path: string, text: string): SimCall {
  if (!PARSED_METHODS.includes(method)) throw unsupportedMethod();
  const name = path.startsWith(API_ROOT) ? path.slice(API_ROOT.length) : '';
  if (!isSimEndpoint(name)) throw new SimApiFailure(404, ['Not Found']);
  const route = SIM_ENDPOINTS[name];
  if (route.handler === 'action' && method !== 'GET' && method !== 'PUT') throw new SimApiFailure(400, []);
  if (method !== route.method) throw badRequest();
  return { endpoint: name, method: route.method, body: parseBody(name, text) };
}

function parseBody(endpoint: SimEndpoint, text: string): unknown {
  const route = SIM_ENDPOINTS[endpoint];
  if (route.body === 'ignored') return undefined;
  if (route.body === 'none') {
    if (text !== '') throw badRequest();
    return undefined;
  }
  // vm.create has its own handler, which answers a missing body with an empty 400.
  if (text === '') throw endpoint === 'vm.create' ? new SimApiFailure(400, []) : badRequest();
  const syntax = serdeSyntaxError(text);
  if (syntax !== undefined) throw cannotDeserialize(syntax);
  const json: unknown = JSON.parse(text);
  const spec = BODIES[endpoint];
  if (spec === undefined) return json;
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const missing = spec.required.find((field) => !Object.hasOwn(json, field));
    if (missing !== undefined) throw cannotDeserialize(serdeMissingField(text, missing));
  }
  const parsed = spec.schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw cannotDeserialize(`${issues.join('; ')} (hangar simulator: checked against the API spec)`);
  }
  return parsed.data;
}
