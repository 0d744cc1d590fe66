// A small Markdown renderer for model replies. Every piece of model text goes through
// escapeHtml before it is joined into HTML, and the only attribute built from model text is a
// link's href, which must be http(s) and is escaped too: a reply cannot inject markup or
// script. It renders while streaming, so an unclosed code fence renders as an open block.
//
// Supported: fenced code (```lang) with simple highlighting, indented-free paragraphs,
// # headings, - * + and 1. lists (one level), > quotes, --- rules, `code`, **bold**, *em*,
// ~~strike~~, [text](http://...) links and bare http(s) URLs.

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// ---- inline ----------------------------------------------------------------------------------

// Inline markup over already-escaped text. Code spans are cut out first so their content is
// never read as markup; the placeholders use a character escaping never produces.
function inline(raw: string): string {
  const spans: string[] = [];
  let text = escapeHtml(raw).replace(/`([^`\n]+)`/g, (_m, code: string) => {
    spans.push(`<code>${code}</code>`);
    return `\u0000${spans.length - 1}\u0000`;
  });
  // Links: the text is already escaped; the URL was escaped with it, and must be http(s).
  text = text.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, (_m, label: string, url: string) => {
    spans.push(`<a href="${url}" target="_blank" rel="noopener noreferrer">${label}</a>`);
    return `\u0000${spans.length - 1}\u0000`;
  });
  text = text.replace(/(^|[\s(])(https?:\/\/[^\s<)]+)/g, (_m, lead: string, url: string) => {
    spans.push(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`);
    return `${lead}\u0000${spans.length - 1}\u0000`;
  });
  text = text
    .replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>')
    // Not inside words: snake_case and __dunder__ names stay as written.
    .replace(/(^|[^\w])__([^_\n]+)__(?!\w)/g, '$1<strong>$2</strong>')
    .replace(/(^|[^*\w])\*([^*\s][^*\n]*?)\*(?!\w)/g, '$1<em>$2</em>')
    .replace(/~~([^~\n]+)~~/g, '<del>$1</del>');
  return text.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => spans[Number(i)]);
}

// ---- code highlighting ---------------------------------------------------------------------

const KEYWORDS = new Set(
  ('if else for while do return function const let var class struct enum def import from as ' +
    'export default new delete try catch finally throw switch case break continue public ' +
    'private protected static void int float double char bool auto namespace using template ' +
    'typename true false null nullptr None True False self this fn mut impl pub use match ' +
    'async await yield lambda in is not and or with pass raise elif print package func go ' +
    'type interface struct extends implements')
    .split(' '),
);

// One pass over the code: comments, strings, numbers and keywords become spans; everything
// is escaped on the way out.
export function highlight(code: string): string {
  const token =
    /(\/\/[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|`[^`]*`?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;
  let out = '';
  let last = 0;
  for (let m = token.exec(code); m; m = token.exec(code)) {
    out += escapeHtml(code.slice(last, m.index));
    const [all, comment, str, num, word] = m;
    if (comment) out += `<span class="tok-comment">${escapeHtml(comment)}</span>`;
    else if (str) out += `<span class="tok-string">${escapeHtml(str)}</span>`;
    else if (num) out += `<span class="tok-number">${escapeHtml(num)}</span>`;
    else if (word && KEYWORDS.has(word)) out += `<span class="tok-keyword">${escapeHtml(word)}</span>`;
    else out += escapeHtml(all);
    last = m.index + all.length;
  }
  return out + escapeHtml(code.slice(last));
}

// ---- blocks ----------------------------------------------------------------------------------

export function renderMarkdown(source: string): string {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let paragraph: string[] = [];
  let list: { ordered: boolean; items: string[] } | null = null;
  let quote: string[] = [];

  const flushParagraph = () => {
    if (paragraph.length) out.push(`<p>${paragraph.map(inline).join('<br>')}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (list) {
      const tag = list.ordered ? 'ol' : 'ul';
      out.push(`<${tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join('')}</${tag}>`);
    }
    list = null;
  };
  const flushQuote = () => {
    if (quote.length) out.push(`<blockquote>${renderMarkdown(quote.join('\n'))}</blockquote>`);
    quote = [];
  };
  const flushAll = () => {
    flushParagraph();
    flushList();
    flushQuote();
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*```\s*([\w+#.-]*)\s*$/.exec(line);
    if (fence) {
      flushAll();
      const lang = fence[1];
      const body: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (/^\s*```\s*$/.test(lines[i])) {
          closed = true;
          break;
        }
        body.push(lines[i]);
      }
      const label = lang ? `<span class="code-lang">${escapeHtml(lang)}</span>` : '';
      const cls = closed ? 'code' : 'code open';
      out.push(
        `<div class="${cls}">${label}<pre><code>${highlight(body.join('\n'))}</code></pre></div>`,
      );
      continue;
    }
    const quoted = /^\s*>\s?(.*)$/.exec(line);
    if (quoted) {
      flushParagraph();
      flushList();
      quote.push(quoted[1]);
      continue;
    }
    flushQuote();
    if (/^\s*$/.test(line)) {
      flushParagraph();
      flushList();
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flushAll();
      const level = Math.min(heading[1].length + 2, 6);  // h3..h6: replies sit under the page's h1/h2
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flushAll();
      out.push('<hr>');
      continue;
    }
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (bullet || numbered) {
      flushParagraph();
      const ordered = !!numbered;
      if (list && list.ordered !== ordered) flushList();
      if (!list) list = { ordered, items: [] };
      list.items.push((bullet ?? numbered)![1]);
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      list.items[list.items.length - 1] += ' ' + line.trim();  // a wrapped list item
      continue;
    }
    flushList();
    paragraph.push(line);
  }
  flushAll();
  return out.join('\n');
}
