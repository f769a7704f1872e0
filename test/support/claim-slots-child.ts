// A child process for the cross-process slot claim test: waits for "go" on stdin, then
// claims `count` slots concurrently and prints them as one JSON array.
import { createInterface } from 'node:readline';
import { SlotClaims } from '../../src/network/slot-claims.ts';

const [dir, owner, countText] = process.argv.slice(2);
if (!dir || !owner || !countText) throw new Error('usage: claim-slots-child.ts DIR OWNER COUNT');
const claims = new SlotClaims({ dir });
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  if (line.trim() === 'go') break;
}
lines.close();
const slots = await Promise.all(Array.from({ length: Number(countText) }, () => claims.claim(owner)));
process.stdout.write(`${JSON.stringify(slots)}\n`);
