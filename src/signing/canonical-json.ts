/**
 * One fixed serialization of a JSON value, so a producer and a worker that hold the same
 * data produce the same bytes: object keys sorted (by UTF-16 code units, as Array.sort
 * does), no whitespace, keys whose value is undefined left out (JSON.stringify drops them
 * too, so data read back from Redis serializes the same as the data that was written).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}
