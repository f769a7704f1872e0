import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForOutput } from '../support/child-output.ts';
import { startTestFleet, TEST_REDIS_URL, type TestFleet } from '../support/fleet.ts';

// The example service (examples/sandbox-service) in its own process, as a team would run it,
// driven with real HTTP requests against a worker on the CH simulator. Inside the repository
// its `import ... from 'hangar'` resolves to the source through the hangar-source condition.
const MAIN = new URL('../../examples/sandbox-service/main.ts', import.meta.url).pathname;

let fleet: TestFleet;
let service: ResultPromise;
let base: string;

beforeAll(async () => {
  fleet = await startTestFleet({ hosts: ['ex1'], network: { prefix: 'hgex', octet: 252 } });
  service = execa(process.execPath, ['--conditions=hangar-source', MAIN], {
    env: { REDIS_URL: TEST_REDIS_URL, HANGAR_KEY_PREFIX: fleet.keyPrefix, PORT: '0' },
    reject: false,
    cleanup: true,
  });
  const said = await waitForOutput(service, /listening on (http:\/\/\S+)/);
  base = /listening on (http:\/\/\S+)/.exec(said)![1]!;
}, 60_000);

afterAll(async () => {
  service?.kill('SIGTERM');
  await service;
  await fleet?.stop();
});

/** One server-sent event as the stream framed it. */
interface SseFrame {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads a server-sent event stream until the server ends it. */
async function readSse(path: string, headers: Record<string, string> = {}): Promise<SseFrame[]> {
  const response = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(30_000) });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const frames: SseFrame[] = [];
  for (const block of (await response.text()).split('\n\n')) {
    if (block.trim() === '') continue;
    const field = (name: string) =>
      block
        .split('\n')
        .find((line) => line.startsWith(`${name}: `))
        ?.slice(name.length + 2) ?? '';
    frames.push({ id: field('id'), event: field('event'), data: JSON.parse(field('data')) });
  }
  return frames;
}

/** A GET's JSON body. */
const getJson = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T;
type Listing = { sandboxes: { sandboxId: string }[] };

const post = (body: unknown) =>
  fetch(`${base}/sandboxes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('the example sandbox service over HTTP [CH simulator stand-in]', () => {
  it('creates, lists by label, streams events and destroys', async () => {
    const created = await post({ template: 'base', vcpus: 1, memoryMib: 256, labels: { team: 'search' } });
    expect(created.status).toBe(201);
    const search = (await created.json()) as { sandboxId: string; address: string; state: string };
    expect(search).toMatchObject({ state: 'running', address: expect.stringMatching(/^10\.253\./) });
    const other = (await (await post({ labels: { team: 'ads' } })).json()) as { sandboxId: string };

    const listed = await getJson<Listing>('/sandboxes?label=team=search');
    expect(listed.sandboxes.map((s) => s.sandboxId)).toEqual([search.sandboxId]);
    const record = await getJson(`/sandboxes/${search.sandboxId}`);
    expect(record).toMatchObject({ sandboxId: search.sandboxId, labels: { team: 'search' }, hostId: 'ex1' });

    // The stream is open before the destroy and ends by itself once the sandbox is destroyed.
    const streamed = readSse(`/sandboxes/${search.sandboxId}/events`);
    expect((await fetch(`${base}/sandboxes/${search.sandboxId}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/sandboxes/${other.sandboxId}`, { method: 'DELETE' })).status).toBe(204);
    const frames = await streamed;
    const states = frames.filter((f) => f.event === 'sandbox.state').map((f) => f.data.state);
    expect(states).toEqual(['creating', 'running', 'destroying', 'destroyed']);
    expect(frames.every((f) => f.data.sandboxId === search.sandboxId)).toBe(true);

    // A reconnect with Last-Event-ID goes on after the last event it saw.
    const resumed = await readSse(`/sandboxes/${search.sandboxId}/events`, {
      'last-event-id': frames[0]!.id,
    });
    expect(resumed.map((f) => f.id)).toEqual(frames.slice(1).map((f) => f.id));

    expect((await getJson<Listing>('/sandboxes?label=team=search')).sandboxes).toEqual([]);
  }, 60_000);

  it('answers bad input with 400 and an unknown sandbox with 404, with hangar error codes', async () => {
    const bad = await post({ vcpus: 0 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'E_VALIDATION' });
    const missing = await fetch(`${base}/sandboxes/sb-nosuchsandbox`, { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'E_NOT_FOUND' });
    expect((await fetch(`${base}/sandboxes/sb-nosuchsandbox`)).status).toBe(404);
  });
});
