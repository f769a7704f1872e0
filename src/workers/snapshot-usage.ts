import { join } from 'node:path';
import type { HostContext } from './host-context.ts';
import { readManifest, SNAPSHOT_MANIFEST } from './operations/snapshot.ts';

/**
 * The bytes this host's snapshots use, for the heartbeat: each snapshot's figure is read
 * once from its manifest (memory and disk bytes really used) and remembered.
 */
export class SnapshotUsage {
  readonly #bytes = new Map<string, number>();

  /** How many snapshots the ledger holds and the bytes they use. */
  async total(ctx: HostContext): Promise<{ count: number; bytes: number }> {
    const ids = ctx.ledger.snapshots();
    let bytes = 0;
    for (const id of ids) {
      let known = this.#bytes.get(id);
      if (known === undefined) {
        const manifest = await readManifest(join(ctx.paths.snapshotDir(id), SNAPSHOT_MANIFEST)).catch(
          () => undefined,
        );
        known = manifest === undefined ? 0 : manifest.memoryBytes + manifest.diskBytes;
        if (manifest !== undefined) this.#bytes.set(id, known);
      }
      bytes += known;
    }
    for (const id of this.#bytes.keys()) if (!ids.includes(id)) this.#bytes.delete(id);
    return { count: ids.length, bytes };
  }
}
