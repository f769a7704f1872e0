import { type FileHandle, open, truncate } from 'node:fs/promises';
import { z } from 'zod';
import { CorruptStateError } from '../errors/index.ts';
import { readFileIfExists } from '../util/read-file-if-exists.ts';

/** One change to a ledger, as a journal line holds it (each is a whole state, so replaying twice is harmless). */
export const JournalRecord = z.union([
  z.object({ put: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ remove: z.string() }).strict(),
  z.object({ snapshot: z.string() }).strict(),
  z.object({ unsnapshot: z.string() }).strict(),
  z.object({ poolPut: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ poolRemove: z.string() }).strict(),
]);
export type JournalRecord = z.infer<typeof JournalRecord>;

/**
 * The ledger's write-ahead journal: changes appended as JSON lines and made durable with
 * one fdatasync per append, however many changes it carries, instead of rewriting the
 * whole ledger file (and fsyncing it and its directory) per change. A crash can only tear
 * the last line, one whose append was never acknowledged; replay drops it. Any other line
 * that does not parse is corrupt state.
 */
export class LedgerJournal {
  readonly path: string;
  #handle: FileHandle | undefined;
  #lines = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** Lines appended since the journal was last emptied. */
  get lines(): number {
    return this.#lines;
  }

  /** The records in the journal, in order (a torn last line dropped). */
  async replay(): Promise<JournalRecord[]> {
    const text = (await readFileIfExists(this.path)) ?? '';
    const lines = text.split('\n');
    const records: JournalRecord[] = [];
    for (const [index, line] of lines.entries()) {
      if (line === '') continue;
      // Only a last line with no newline after it can be torn.
      const last = index === lines.length - 1;
      try {
        records.push(JournalRecord.parse(JSON.parse(line)));
      } catch (error) {
        if (last) break;
        throw new CorruptStateError(`${this.path} line ${index + 1}`, error);
      }
    }
    this.#lines = records.length;
    return records;
  }

  /** Appends records and waits until they are durable. */
  async append(records: readonly JournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.#handle ??= await open(this.path, 'a', 0o600);
    await this.#handle.write(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    await this.#handle.datasync();
    this.#lines += records.length;
  }

  /** Empties the journal, once what it held is durable elsewhere (a compacted ledger file). */
  async clear(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
    await truncate(this.path, 0).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    const handle = await open(this.path, 'a', 0o600);
    await handle.sync();
    this.#handle = handle;
    this.#lines = 0;
  }

  async close(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
  }
}
