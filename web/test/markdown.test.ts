// The Markdown renderer's escaping and blocks (ctest web_markdown: bundled by esbuild for
// node, run with node --test). Everything a reply says must come out as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, highlight, renderMarkdown } from '../src/markdown';

// Every tag in the output, by name: what the renderer made, never what the model wrote.
function tags(html: string): string[] {
  return [...html.matchAll(/<([a-z0-9]+)[\s>]/g)].map((m) => m[1]);
}

const allowed = new Set(['p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'div', 'span', 'a',
  'ul', 'ol', 'li', 'blockquote', 'hr', 'h3', 'h4', 'h5', 'h6']);

test('escapes the five HTML characters', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`),
    '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
});

test('markup in a reply never becomes markup', () => {
  const attacks = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(1)</script>',
    '**<b>x</b>**',
    '`<i>code</i>`',
    '[x](javascript:alert(1))',
    '[x](https://a.example/"onmouseover="alert(1))',
    '```html\n<iframe src=//evil></iframe>\n```',
    '> <svg onload=alert(1)>',
    '- <details open ontoggle=alert(1)>',
    '# <style>body{display:none}</style>',
    'https://a.example/<script>',
    '&lt;already escaped&gt;',
  ];
  for (const attack of attacks) {
    const html = renderMarkdown(attack);
    for (const tag of tags(html)) assert.ok(allowed.has(tag), `${attack} -> <${tag}> in ${html}`);
    assert.doesNotMatch(html, /<[^>]*\son\w+=/i, attack);  // no handler inside a tag
    assert.doesNotMatch(html, /href="(?!https?:)/, attack);
    assert.doesNotMatch(html, /<(script|img|iframe|svg|style|details)/i, attack);
  }
  // Already-escaped text is shown as written, not unescaped.
  assert.match(renderMarkdown('&lt;x&gt;'), /&amp;lt;x&amp;gt;/);
});

test('links: http(s) only, attribute escaped, opened without the opener', () => {
  const html = renderMarkdown('[docs](https://example.com/a?b=1&c="2") and https://x.example/p');
  assert.match(html, /<a href="https:\/\/example.com\/a\?b=1&amp;c=&quot;2&quot;" target="_blank" rel="noopener noreferrer">docs<\/a>/);
  assert.match(html, /<a href="https:\/\/x.example\/p"/);
  assert.doesNotMatch(renderMarkdown('[x](javascript:alert(1))'), /<a /);
});

test('blocks: headings, lists, quotes, rules, paragraphs', () => {
  const html = renderMarkdown('# Title\n\nSome *em* and **strong** and ~~gone~~.\nNext line\n\n'
    + '- one\n- two\n\n1. first\n2. second\n\n> quoted\n\n---\n');
  assert.match(html, /<h3>Title<\/h3>/);
  assert.match(html, /<p>Some <em>em<\/em> and <strong>strong<\/strong> and <del>gone<\/del>.<br>Next line<\/p>/);
  assert.match(html, /<ul><li>one<\/li><li>two<\/li><\/ul>/);
  assert.match(html, /<ol><li>first<\/li><li>second<\/li><\/ol>/);
  assert.match(html, /<blockquote><p>quoted<\/p><\/blockquote>/);
  assert.match(html, /<hr>/);
  assert.equal(renderMarkdown('snake_case and a__b__c stay'), '<p>snake_case and a__b__c stay</p>');
});

test('code: fenced with language label and highlighting, open fence while streaming', () => {
  const html = renderMarkdown('```python\ndef f(x):  # add one\n    return x + 1\n```');
  assert.match(html, /<div class="code"><span class="code-lang">python<\/span><pre><code>/);
  assert.match(html, /<span class="tok-keyword">def<\/span> f/);
  assert.match(html, /<span class="tok-comment"># add one<\/span>/);
  assert.match(html, /<span class="tok-number">1<\/span>/);
  // Not closed yet: still a code block, marked open.
  assert.match(renderMarkdown('```\nlet a = "x'), /<div class="code open"><pre><code><span class="tok-keyword">let<\/span> a = <span class="tok-string">&quot;x<\/span>/);
  // Inline code keeps its content literally.
  assert.equal(renderMarkdown('use `**not bold**`'), '<p>use <code>**not bold**</code></p>');
});

test('highlight escapes everything it does not mark', () => {
  assert.equal(highlight('a < b && "<tag>"'),
    'a &lt; b &amp;&amp; <span class="tok-string">&quot;&lt;tag&gt;&quot;</span>');
});
