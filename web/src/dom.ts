// Small DOM helpers the page views share. Text always goes in through textContent, so nothing
// the server or a model sends is ever parsed as HTML.

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text = '',
  className = '',
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function button(
  label: string,
  aria: string,
  onClick: () => void,
  primary = false,
): HTMLButtonElement {
  const b = el('button', label, primary ? 'primary' : '');
  b.type = 'button';
  b.setAttribute('aria-label', aria);
  b.addEventListener('click', onClick);
  return b;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(1)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

// A view's message (role=alert) under its heading, replacing the previous one.
export function showViewError(root: HTMLElement, text: string): void {
  let box = root.querySelector<HTMLParagraphElement>('.view-error');
  if (!box) {
    box = el('p', '', 'view-error message error');
    box.setAttribute('role', 'alert');
    root.querySelector('h2')?.after(box);
  }
  box.textContent = text;
}

export function clearViewError(root: HTMLElement): void {
  root.querySelector('.view-error')?.remove();
}
