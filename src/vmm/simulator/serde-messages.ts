// serde_json's wording for a body CH cannot deserialize, which CH answers as the second link
// of ["Failed to deserialize JSON", ...]. The scanner below finds the first syntax error the
// way serde_json reads (positions are 1-based line and column); it covers the structure of
// JSON, and leaves number and escape details to a generic message.

/** Where a character is: 1-based line, column counted in characters of that line. */
function positionOf(text: string, index: number): string {
  let line = 1;
  let column = 0;
  for (let i = 0; i <= index && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      column = 0;
    } else column++;
  }
  return `line ${line} column ${column}`;
}

class SyntaxFault extends Error {}

/** serde_json's message for text that is not JSON, or undefined when it is. */
export function serdeSyntaxError(text: string): string | undefined {
  let i = 0;
  // serde reports an unexpected character where it stands, and an EOF after the last one read.
  const at = (message: string, index: number) => new SyntaxFault(`${message} at ${positionOf(text, index)}`);
  const eof = (what: string) => at(`EOF while parsing ${what}`, text.length - 1);
  const skipSpace = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) throw eof('a string');
      const ch = text[i]!;
      if (ch === '"') {
        i++;
        return;
      }
      if (ch < ' ') throw at('control character (\\u0000-\\u001F) found while parsing a string', i);
      i += ch === '\\' ? 2 : 1;
    }
  };
  const value = (): void => {
    skipSpace();
    if (i >= text.length) throw eof('a value');
    const ch = text[i]!;
    if (ch === '{') {
      container('}', 'an object', 'expected `,` or `}`', true);
      return;
    }
    if (ch === '[') {
      container(']', 'a list', 'expected `,` or `]`', false);
      return;
    }
    if (ch === '"') {
      string();
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (ch !== word[0]) continue;
      for (const expected of word) {
        if (i >= text.length) throw eof('a value');
        if (text[i] !== expected) throw at('expected ident', i);
        i++;
      }
      return;
    }
    if (ch === '-' || (ch >= '0' && ch <= '9')) {
      while (i < text.length && /[-+.eE0-9]/.test(text[i]!)) i++;
      return;
    }
    throw at('expected value', i);
  };
  const container = (close: string, what: string, expectedNext: string, keyed: boolean) => {
    i++;
    skipSpace();
    if (i >= text.length) throw eof(what);
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      if (keyed) {
        skipSpace();
        if (i >= text.length) throw eof(what);
        if (text[i] !== '"') throw at('key must be a string', i);
        string();
        skipSpace();
        if (i >= text.length) throw eof(what);
        if (text[i] !== ':') throw at('expected `:`', i);
        i++;
      }
      value();
      skipSpace();
      if (i >= text.length) throw eof(what);
      if (text[i] === close) {
        i++;
        return;
      }
      if (text[i] !== ',') throw at(expectedNext, i);
      i++;
      skipSpace();
      if (text[i] === close) throw at('trailing comma', i);
    }
  };
  try {
    value();
    skipSpace();
    if (i < text.length) throw at('trailing characters', i);
  } catch (error) {
    if (error instanceof SyntaxFault) return error.message;
    throw error;
  }
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    // Numbers and escapes the scanner does not check.
    return `invalid JSON: ${(error as Error).message}`;
  }
}

/** serde_json's message for a required field missing from the body's top-level object. */
export function serdeMissingField(text: string, field: string): string {
  const end = text.trimEnd().length - 1;
  return `missing field \`${field}\` at ${positionOf(text, end)}`;
}
