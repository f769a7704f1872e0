// `npm run chaos [-- flags]`: the kill campaign (issue 10). Phase 1 SIGKILLs the worker at
// random moments while a random workload runs; phase 2 does the same to a private Redis. At
// the end every job must have been answered once, nothing may have happened twice, and
// nothing may be left behind. Needs root (real namespaces, loop devices, nftables).
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCampaign } from './chaos/campaign.ts';
import { DEFAULT_SIM_LATENCY, parseCampaignOptions } from './chaos/options.ts';
import { randomSeed } from './chaos/prng.ts';
import { formatReport, writeReport } from './chaos/report.ts';

const RESULTS_DIR = fileURLToPath(new URL('../bench/results/', import.meta.url));

const USAGE = `usage: npm run chaos -- [flags]
  --kills <n>              worker SIGKILLs in phase 1 (default 100)
  --redis-kills <n>        redis-server SIGKILLs in phase 2 (default 10)
  --phase2-lead <n>        phase 2 starts when phase 1 has n worker kills left (default 10)
  --seed <n>               seed of every random decision (default: random, printed)
  --phases <list>          1, 2 or 1,2 (default 1,2)
  --sandboxes <n>          sandboxes the workload keeps alive (default 10)
  --in-flight <n>          workload calls in flight at once (default 16)
  --result-timeout-ms <n>  how long each result() is awaited before the job is lost (default 180000)
  --quiescent-ms <n>       idle queues for this long after the kills: unanswered jobs are lost (default 5000)
  --deadline-ms <n>        stop waiting for answers in time to be done by then (default 570000)
  --sim-latency <spec>     HANGAR_SIM_LATENCY of the worker (default ${DEFAULT_SIM_LATENCY})
  --redis <url>            phase 1's Redis (default REDIS_URL or redis://127.0.0.1:6379)
  --network-prefix <4ch>   network objects are <prefix><phase>-ns-N... (default hgch)
  --octet <n>              phase n uses 10.<octet+n-1>.0.0/16 (default 206)
  --worker-logs <dir>      append each worker's output to <dir>/<host>.log
  --results-dir <dir>      where the JSON report goes (default bench/results)`;

const { values } = parseArgs({
  options: {
    kills: { type: 'string' },
    'redis-kills': { type: 'string' },
    'phase2-lead': { type: 'string' },
    seed: { type: 'string' },
    phases: { type: 'string' },
    sandboxes: { type: 'string' },
    'in-flight': { type: 'string' },
    'result-timeout-ms': { type: 'string' },
    'quiescent-ms': { type: 'string' },
    'deadline-ms': { type: 'string' },
    'sim-latency': { type: 'string' },
    redis: { type: 'string' },
    'network-prefix': { type: 'string' },
    octet: { type: 'string' },
    'worker-logs': { type: 'string' },
    'results-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const seed = number(values.seed) ?? randomSeed();
const given = {
  seed,
  workerKills: number(values.kills),
  redisKills: number(values['redis-kills']),
  phase2LeadKills: number(values['phase2-lead']),
  phases: values.phases?.split(',').map(Number),
  sandboxes: number(values.sandboxes),
  inFlight: number(values['in-flight']),
  resultTimeoutMs: number(values['result-timeout-ms']),
  quiescentMs: number(values['quiescent-ms']),
  deadlineMs: number(values['deadline-ms']),
  simLatency: values['sim-latency'],
  redisUrl: values.redis ?? process.env.REDIS_URL,
  networkPrefix: values['network-prefix'],
  octet: number(values.octet),
  workerLogDir: values['worker-logs'],
};
const options = parseCampaignOptions(
  Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
);

// The first Ctrl-C stops the kills and the workload and tears everything down; a second exits.
const abort = new AbortController();
process.once('SIGINT', () => {
  console.error('\nSIGINT: stopping, then tearing everything down (again to exit at once)');
  abort.abort();
  process.once('SIGINT', () => process.exit(130));
});

console.log(`hangar chaos: seed ${seed} (repeat with --seed ${seed})`);
try {
  const report = await runCampaign(options, { log: (line) => console.log(line), signal: abort.signal });
  console.log(`\n${formatReport(report)}`);
  const path = await writeReport(values['results-dir'] ?? RESULTS_DIR, report);
  console.log(`\n${JSON.stringify(report.totals)}\nreport: ${path}`);
  process.exit(report.ok && !abort.signal.aborted ? 0 : 1);
} catch (error) {
  console.error('chaos campaign failed:', error);
  process.exit(2);
}
