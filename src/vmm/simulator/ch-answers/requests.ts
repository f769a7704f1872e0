import { type ChAnswer, cellsOf } from './cell.ts';

// Request-level rules, decided by the HTTP thread before the VMM sees the call, so the same in
// every state: vmm/src/api/http/mod.rs (handle_http_request: routes by exact path, unknown
// paths are HttpError::NotFound; EndpointHandler::handle_request: only GET and PUT reach a
// handler, other methods get a bare 400), http_endpoint.rs (VmActionHandler: a body on an
// action that takes none, or none on one that needs it, is HttpError::BadRequest; vm.create,
// vm.info, vmm.ping and vmm.shutdown have their own handlers) and micro_http at 7975fe0
// (CH's Cargo.lock): GET, PUT, PATCH and DELETE parse; any other method is its own 400 with a
// body that is not CH's chain. serde_json writes the deserialization messages.

const BAD = ['Bad Request'];
const SERDE = 'Failed to deserialize JSON';
const UNSUPPORTED_METHOD =
  '{ "error": "Invalid HTTP Method: Unsupported HTTP method.\nAll previous unanswered requests will be dropped." }';

const on = (method: ChAnswer['method'], endpoint: string, why: string) => cellsOf(method, endpoint, why);

/** Unknown paths, wrong methods, bodies where none is expected and none where one is, bad JSON. */
export const REQUEST_ANSWERS: readonly ChAnswer[] = [
  on('GET', 'vm.nope', 'no such route')('no-vm', { status: 404, chain: ['Not Found'], after: 'no VM' }),
  on(
    'GET',
    '/vm.info',
    'routes are under /api/v1',
  )('no-vm', { status: 404, chain: ['Not Found'], after: 'no VM' }),
  on(
    'GET',
    'vm.pause',
    'a PUT action has no GET handler',
  )('no-vm', { status: 400, chain: BAD, after: 'no VM' }),
  on('PUT', 'vm.info', 'VmInfo answers GET only')('no-vm', { status: 400, chain: BAD, after: 'no VM' }),
  on(
    'PUT',
    'vm.counters',
    'a GET action has no PUT handler',
  )('no-vm', { status: 400, chain: BAD, after: 'no VM' }),
  on('PUT', 'vmm.ping', 'VmmPing answers GET only')('no-vm', { status: 400, chain: BAD, after: 'no VM' }),
  on(
    'GET',
    'vmm.shutdown',
    'VmmShutdown answers PUT only',
  )('no-vm', { status: 400, chain: BAD, after: 'no VM' }),
  on('GET', 'vm.create', 'VmCreate answers PUT only')('no-vm', { status: 400, chain: BAD, after: 'no VM' }),
  on(
    'DELETE',
    'vm.pause',
    'VmActionHandler answers a method other than GET or PUT with an empty 400',
  )('no-vm', {
    status: 400,
    chain: [],
    after: 'no VM',
  }),
  on(
    'PATCH',
    'vm.snapshot',
    'VmActionHandler answers a method other than GET or PUT with an empty 400',
  )('no-vm', {
    status: 400,
    chain: [],
    after: 'no VM',
  }),
  on(
    'DELETE',
    'vm.info',
    'VmInfo answers any other method with HttpError::BadRequest',
  )('no-vm', {
    status: 400,
    chain: BAD,
    after: 'no VM',
  }),
  on(
    'POST',
    'vm.info',
    'micro_http refuses the method while parsing the request',
  )('no-vm', {
    status: 400,
    text: UNSUPPORTED_METHOD,
    after: 'no VM',
  }),
  ...(['no-vm', 'running'] as const).map((s) =>
    on(
      'PUT',
      'vm.pause',
      'a body on an action that takes none',
    )(s, {
      raw: '{}',
      status: 400,
      chain: BAD,
      after: s === 'no-vm' ? ('no VM' as const) : ('Running' as const),
    }),
  ),
  on(
    'PUT',
    'vm.snapshot',
    'no body on an action that needs one',
  )('no-vm', { status: 400, chain: BAD, after: 'no VM' }),
  on(
    'PUT',
    'vm.create',
    'VmCreate answers a missing body with an empty 400',
  )('no-vm', {
    status: 400,
    chain: [],
    after: 'no VM',
  }),
  on(
    'PUT',
    'vm.snapshot',
    'serde_json',
  )('no-vm', {
    raw: 'x',
    status: 400,
    chain: [SERDE, 'expected value at line 1 column 1'],
    after: 'no VM',
  }),
  on(
    'PUT',
    'vm.create',
    'serde_json',
  )('no-vm', {
    raw: 'x',
    status: 400,
    chain: [SERDE, 'expected value at line 1 column 1'],
    after: 'no VM',
  }),
  on(
    'PUT',
    'vm.add-net',
    'serde_json',
  )('no-vm', {
    raw: '{',
    status: 400,
    chain: [SERDE, 'EOF while parsing an object at line 1 column 1'],
    after: 'no VM',
  }),
  on(
    'PUT',
    'vm.snapshot',
    'serde_json: VmSnapshotConfig.destination_url has no default',
  )('no-vm', {
    raw: '{}',
    status: 400,
    chain: [SERDE, 'missing field `destination_url` at line 1 column 2'],
    after: 'no VM',
  }),
  on(
    'PUT',
    'vmm.shutdown',
    'VmmShutdown ignores a body',
  )('no-vm', { raw: '{}', status: 200, after: 'exited' }),
];
