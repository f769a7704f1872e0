import { describe, expect, it } from 'vitest';
import { escapeHtml, html, SafeHtml } from '../../src/dashboard/html.ts';

describe('html: markup from templates, everything else escaped', () => {
  it('escapes every value that is not markup html built, in content and attributes', () => {
    const value = `<img src=x onerror="alert('1')">&`;
    expect(html`<td title="${value}">${value}</td>`.text).toBe(
      '<td title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;">' +
        '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;</td>',
    );
    expect(escapeHtml('"\'<>&')).toBe('&quot;&#39;&lt;&gt;&amp;');
  });

  it('nests markup and lists of it as they are, and shows nothing for null and undefined', () => {
    const items = ['a<b', 'c'].map((text) => html`<li>${text}</li>`);
    expect(html`<ul>${items}</ul>${undefined}${null}${0}`.text).toBe('<ul><li>a&lt;b</li><li>c</li></ul>0');
  });

  it('lets no caller mark text as markup', () => {
    expect(() => new SafeHtml(Symbol('built by html'), '<script>')).toThrow(TypeError);
  });
});
