/** Where a URL starts inside any text: a scheme and `//`. */
const URL_START = /[a-z][a-z0-9+.-]*:\/\//gi;

/** Where a URL inside text ends: whitespace, a quote or an angle bracket. */
const URL_END = /[\s'"`<>]/;

/**
 * Text with the password of every URL in it hidden (`redis://user:***@host`), for logs and
 * errors. A URL's credentials are everything before the last `@` of the URL, so a password
 * holding `@`, `/` or `:` unencoded is hidden whole; credentials without a `:` (which
 * ioredis takes as a user name, but a user may have meant as a password) are hidden too.
 */
export function redact(text: string): string {
  let out = '';
  let from = 0;
  for (const match of text.matchAll(URL_START)) {
    const start = match.index + match[0].length;
    if (start <= from) continue;
    const rest = text.slice(start);
    const end = rest.search(URL_END);
    const url = end === -1 ? rest : rest.slice(0, end);
    const at = url.lastIndexOf('@');
    out += text.slice(from, start);
    from = start;
    if (at === -1) continue;
    const auth = url.slice(0, at);
    const colon = auth.indexOf(':');
    out += `${colon === -1 ? '***' : `${auth.slice(0, colon)}:***`}@`;
    from = start + at + 1;
  }
  return out + text.slice(from);
}
