// A HangarClient in its own process, so a test can watch its stderr while Redis dies under it.
// argv[2]: the Redis URL; argv[3]: the key prefix; argv[4]: a job id whose result it waits for.
// It opens every kind of connection the client has (commands, a queue, the outcome subscriber,
// an event reader), then reads a record every 100 ms and says on stdout how that went:
// `connected` once, `down` for a failed read, `reconnected` for the first good read after one,
// `resolved` when the job's result arrives. SIGTERM closes the client and exits 0.

import { internalsOf } from '../../src/producer/client-internals.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';

const [redisUrl = '', keyPrefix = '', jobId = 'never'] = process.argv.slice(2);
const say = (line: string) => process.stdout.write(`${line}\n`);

const client = await HangarClient.connect({ redisUrl, keyPrefix });
internalsOf(client).submitter.queueFor('h1');
const abort = new AbortController();
const reading = (async () => {
  for await (const _ of client.events({ signal: abort.signal, blockMs: 100 })) {
    // Events are not what this process is for; the reader's connection is.
  }
})().catch((error: unknown) => say(`events-error ${String(error)}`));
client
  .handle({ jobId, hostId: 'h1', sandboxId: 'sb-1', op: 'pause' })
  .result(600_000)
  .then(
    () => say('resolved'),
    (error: unknown) => say(`result-error ${String(error)}`),
  );
let down = false;
const timer = setInterval(() => {
  client.get('sb-1').then(
    () => {
      if (down) say('reconnected');
      down = false;
    },
    () => {
      down = true;
      say('down');
    },
  );
}, 100);
say('connected');

process.on('SIGTERM', () => {
  const began = Date.now();
  const step = (what: string) => process.stderr.write(`${what} ${Date.now() - began} ms after SIGTERM\n`);
  clearInterval(timer);
  abort.abort();
  void reading
    .then(() => step('reader stopped'))
    .then(() => client.close())
    .then(() => step('client closed'))
    .then(() => process.exit(0));
});
