import { appendFile, readFile } from 'node:fs/promises';

/**
 * Environment variable naming a JSON-lines file that records every CH API request the client
 * sends (and the bodies it gets back), so a separate check can validate them against the spec.
 */
export const CH_REQUEST_LOG = 'HANGAR_CH_REQUEST_LOG';

/** One request as sent: what the spec conformance check validates against requestBody. */
export interface ChRequestRecord {
  kind: 'request';
  method: string;
  endpoint: string;
  body: unknown;
}

/** One successful answer with a JSON body, before our own parsing: checked against the spec's response. */
export interface ChResponseRecord {
  kind: 'response';
  method: string;
  endpoint: string;
  status: number;
  body: unknown;
}

/** A line of the request log. */
export type ChLogRecord = ChRequestRecord | ChResponseRecord;

/** Appends `record` to the file named by HANGAR_CH_REQUEST_LOG; does nothing when it is unset. */
export async function recordChCall(record: ChLogRecord, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const path = env[CH_REQUEST_LOG];
  if (path === undefined || path === '') return;
  // One write per line with O_APPEND: lines from parallel test workers do not interleave.
  await appendFile(path, `${JSON.stringify(record)}\n`);
}

/** Reads a request log back (missing file: no records). */
export async function readChLog(path: string): Promise<ChLogRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ChLogRecord);
}
