import { z } from 'zod';

/**
 * How many of a series' snapshots a host keeps: per sandbox, the newest `keepLast`, and
 * none older than `keepDays` (either or both). A nightly batch with `{ keepLast: 7 }` keeps
 * each sandbox's last week.
 */
export const RetentionPolicy = z
  .object({
    keepLast: z.number().int().min(1).max(10_000).optional(),
    keepDays: z.number().positive().max(3_650).optional(),
  })
  .strict()
  .refine((policy) => policy.keepLast !== undefined || policy.keepDays !== undefined, {
    message: 'a retention policy keeps the last N (keepLast), or for D days (keepDays), or both',
  });
export type RetentionPolicy = z.infer<typeof RetentionPolicy>;

/** The snapshots a policy lets go, of one sandbox's snapshots in a series (any order). */
export function expiredByPolicy<T extends { createdAt: string }>(
  snapshots: readonly T[],
  policy: RetentionPolicy,
  now = Date.now(),
): T[] {
  const newestFirst = [...snapshots].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  return newestFirst.filter(
    (snapshot, index) =>
      (policy.keepLast !== undefined && index >= policy.keepLast) ||
      (policy.keepDays !== undefined && now - Date.parse(snapshot.createdAt) > policy.keepDays * 86_400_000),
  );
}
