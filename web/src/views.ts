// The app's views and its URL. Each view owns one root element (a <main>) and the paths it
// answers; exactly one root is visible. The nav bar's links carry data-view; clicking one (or
// calling navigate) pushes the URL, back and forward replay it, and a direct URL opens the
// view that matches it. A view module plugs in with registerView; a path no registered view
// matches (a view not in this build) shows a short notice instead of a blank page.

export interface View {
  name: string;  // the nav link's data-view, and the root's id is view-NAME
  title: string;  // the tab's title while no view sets a more precise one
  root: HTMLElement;
  matches(path: string): boolean;
  // Called each time the view is shown, with the path (a view such as chat reads its id).
  enter(path: string, pushed: boolean): void | Promise<void>;
  leave?(): void;
}

const views: View[] = [];
let current: View | null = null;
let missing: HTMLElement | null = null;

function container(): HTMLElement {
  return document.getElementById('views') ?? document.body;
}

export function registerView(view: View): void {
  view.root.id ||= `view-${view.name}`;
  view.root.hidden = true;
  if (!view.root.isConnected) container().append(view.root);
  views.push(view);
}

export function currentView(): string | null {
  return current?.name ?? null;
}

// The link of the view shown is current; with no view, the link to this very path.
function markNav(name: string | null, path: string): void {
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a[data-view]')) {
    const current = name ? link.dataset.view === name : link.pathname === path;
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function showMissing(path: string): void {
  if (!missing) {
    missing = document.createElement('main');
    missing.id = 'view-missing';
    missing.className = 'view page';
    container().append(missing);
  }
  const heading = document.createElement('h2');
  heading.textContent = 'Not in this build';
  const text = document.createElement('p');
  text.textContent = `This build of the app has no page at ${path}.`;
  missing.replaceChildren(heading, text);
  missing.hidden = false;
  document.title = 'Not in this build · hearth';
}

// Shows the view for the current location. `pushed`: the URL was just pushed by the app
// (a view may then move focus); false for a direct URL or back/forward.
// The skip link goes to the chat's message box on the chat, and to the view itself elsewhere.
function pointSkipLink(view: HTMLElement | null): void {
  const skip = document.querySelector<HTMLAnchorElement>('a.skip');
  if (!skip) return;
  skip.dataset.chatHref ??= skip.getAttribute('href') ?? '';
  skip.dataset.chatText ??= skip.textContent ?? '';
  const chat = !view || view.id === 'view-chat';
  skip.setAttribute('href', chat ? skip.dataset.chatHref : `#${view.id}`);
  skip.textContent = chat ? skip.dataset.chatText : 'Skip to the page';
}

export async function route(pushed = false): Promise<void> {
  const path = location.pathname;
  const next = views.find((v) => v.matches(path)) ?? null;
  if (current && current !== next) current.leave?.();
  for (const v of views) v.root.hidden = v !== next;
  if (missing) missing.hidden = true;
  current = next;
  markNav(next?.name ?? null, path);
  if (!next) {
    showMissing(path);
    pointSkipLink(missing);
    return;
  }
  pointSkipLink(next.root);
  document.title = `${next.title} · hearth`;
  await next.enter(path, pushed);
}

export function navigate(path: string): Promise<void> {
  if (location.pathname + location.search !== path) history.pushState(null, '', path);
  return route(true);
}

// Links inside the app (the nav, and any link with data-view) switch views without a reload;
// a click with a modifier key keeps the browser's own meaning (a new tab, a download).
export function startRouter(): Promise<void> {
  document.addEventListener('click', (e) => {
    const link = (e.target as Element | null)?.closest?.('a[data-view]') as HTMLAnchorElement;
    if (!link || e.defaultPrevented || e.button !== 0) return;
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    void navigate(link.pathname);
  });
  window.addEventListener('popstate', () => void route(false));
  return route(false);
}
