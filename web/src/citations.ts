// Citations in a grounded reply: each [n] the server backed with a source (the reply's
// `citations`) becomes a button that opens a dialog with the cited passage. The passage is
// document text, so it is set with textContent like every other text from the server.
import { Citation } from './api';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function openCitation(c: Citation): void {
  const dialog = $<HTMLDialogElement>('cite-dialog');
  $<HTMLHeadingElement>('cite-title').textContent = `Source [${c.n}]`;
  const where = c.page > 0 ? `${c.filename}, page ${c.page}` : c.filename;
  $<HTMLParagraphElement>('cite-where').textContent = where;
  $<HTMLQuoteElement>('cite-quote').textContent = c.quote;
  if (!dialog.open) dialog.showModal();
}

// Replaces each backed [n] in the rendered reply's text with a button; code stays as written.
export function linkCitations(body: HTMLElement, citations: Citation[] | undefined): void {
  if (!citations?.length) return;
  const byN = new Map(citations.map((c) => [c.n, c]));
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!(n.parentElement?.closest('code, pre'))) texts.push(n as Text);
  }
  for (const text of texts) {
    const value = text.data;
    const marker = /\[(\d{1,3})\]/g;
    if (!marker.test(value)) continue;
    marker.lastIndex = 0;
    const parts: (string | Node)[] = [];
    let from = 0;
    for (let m = marker.exec(value); m; m = marker.exec(value)) {
      const c = byN.get(Number(m[1]));
      if (!c) continue;
      parts.push(value.slice(from, m.index));
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'cite';
      button.textContent = `[${c.n}]`;
      button.setAttribute('aria-label', `Source ${c.n}: ${c.filename}`);
      button.addEventListener('click', () => openCitation(c));
      parts.push(button);
      from = m.index + m[0].length;
    }
    if (!parts.length) continue;
    parts.push(value.slice(from));
    text.replaceWith(...parts);
  }
}
