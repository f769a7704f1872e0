/** Renders an nft JSON operand: a meta/payload/ct key on the left, a value on the right. */
function operand(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  const record = value as Record<string, Record<string, unknown>>;
  if (record.meta !== undefined) return String(record.meta.key);
  if (record.ct !== undefined) return `ct.${String(record.ct.key)}`;
  if (record.payload !== undefined)
    return `${String(record.payload.protocol)}.${String(record.payload.field)}`;
  if (record.prefix !== undefined) {
    const { addr, len } = record.prefix;
    return len === 32 ? String(addr) : `${String(addr)}/${String(len)}`;
  }
  return JSON.stringify(value);
}

/** The values a match compares against, flattened from sets and lists, sorted. */
function values(right: unknown): string {
  const items = (Array.isArray(right) ? right : [right]).flatMap((item: unknown) => {
    const set = (item as { set?: unknown } | null)?.set;
    return Array.isArray(set) ? set : [item];
  });
  return `{${items.map(operand).sort().join(',')}}`;
}

/** One rule expression as text: `iifname == {eth0}`, `drop`, `dnat 169.254.0.21`. */
function expression(expr: Record<string, unknown>): string {
  const [key, body] = Object.entries(expr)[0] ?? ['?', undefined];
  if (key === 'match') {
    const match = body as { op: string; left: unknown; right: unknown };
    return `${operand(match.left)} ${match.op} ${values(match.right)}`;
  }
  if (body === null) return key;
  if ((key === 'dnat' || key === 'snat') && typeof body === 'object') {
    return `${key} ${String((body as { addr?: unknown }).addr)}`;
  }
  return `${key} ${JSON.stringify(body)}`;
}

/**
 * A table's chains and rules (`nft -j` objects) as comparable lines, handles left out, so a
 * check can tell "built as we would build it" from "missing, partial or stale".
 */
export function summarizeNft(objects: readonly Record<string, unknown>[]): string[] {
  const chains: string[] = [];
  const rules: string[] = [];
  for (const object of objects) {
    const chain = object.chain as Record<string, unknown> | undefined;
    if (chain !== undefined) {
      const { name, type, hook, prio, policy } = chain;
      chains.push(`chain ${String(name)} ${String(type)} ${String(hook)} ${String(prio)} ${String(policy)}`);
    }
    const rule = object.rule as { chain?: unknown; expr?: Record<string, unknown>[] } | undefined;
    if (rule !== undefined) {
      rules.push(`${String(rule.chain)}: ${(rule.expr ?? []).map(expression).join(' ')}`);
    }
  }
  return [...chains, ...rules];
}
