import { randomUUID } from 'node:crypto';

/** A fresh identifier with a readable prefix (`sb-…`, `snap-…`, `batch-…`). */
export function newId(prefix: string): string {
  return `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}
