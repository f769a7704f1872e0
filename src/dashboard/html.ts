// The fleet pages are built only with `html`: every value put into a page is escaped unless
// it is markup `html` built itself, so a label, an error message or a job id from Redis can
// never become markup or script.

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for an element's content or a double- or single-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

// Only this module makes SafeHtml: no caller can mark arbitrary text as markup.
const BUILT = Symbol('built by html');

/** Markup that `html` built: put into another `html` template as it is. */
export class SafeHtml {
  readonly text: string;

  constructor(token: symbol, text: string) {
    if (token !== BUILT) throw new TypeError('SafeHtml is made only by html`...`');
    this.text = text;
  }

  toString(): string {
    return this.text;
  }
}

/** What a template may hold: text (escaped), markup from `html`, lists of both; nothing shows for null and undefined. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

/** A template whose literal parts are markup and whose values are escaped (unless SafeHtml). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(BUILT, out);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}
