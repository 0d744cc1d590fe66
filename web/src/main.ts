// The app's shell: the views (chat, models, documents; views.ts switches them by URL), the
// chat's model and Documents pickers, settings, theme, the conversation list (search,
// rename, delete), /c/ID, and the API-key prompt.
import {
  ApiError,
  Conversation,
  Params,
  deleteConversation,
  exportConversation,
  getConversation,
  listConversations,
  listModels,
  setApiKey,
  listStores,
  updateConversation,
  VectorStore,
} from './api';
import { ChatView } from './chat';
import { mountBrowser, BrowserPage } from './browser';
import { mountCompare } from './compare';
import { DocumentsView } from './documents';
import { ModelsView } from './models';
import { currentView, navigate, registerView, startRouter } from './views';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const modelSelect = $<HTMLSelectElement>('model-select');
const systemPrompt = $<HTMLTextAreaElement>('system-prompt');
const numberInputs = {
  temperature: $<HTMLInputElement>('temperature'),
  top_p: $<HTMLInputElement>('top-p'),
  max_tokens: $<HTMLInputElement>('max-tokens'),
  seed: $<HTMLInputElement>('seed'),
};
const search = $<HTMLInputElement>('search');
const listNode = $<HTMLUListElement>('conversation-list');
const exportButton = $<HTMLButtonElement>('export');
const ragSelect = $<HTMLSelectElement>('rag-select');
const chatLink = document.querySelector<HTMLAnchorElement>('a[data-view="chat"]')!;

function readParams(): Params {
  const params: Params = {};
  for (const [name, input] of Object.entries(numberInputs)) {
    if (input.value.trim() === '') continue;
    const value = Number(input.value);
    if (Number.isFinite(value)) (params as Record<string, number>)[name] = value;
  }
  return params;
}

function showParams(conversation: Conversation | null): void {
  for (const [name, input] of Object.entries(numberInputs)) {
    const value = (conversation?.params as Record<string, unknown> | undefined)?.[name];
    input.value = typeof value === 'number' ? String(value) : '';
  }
  systemPrompt.value = conversation?.system_prompt ?? '';
  if (conversation?.model) selectModel(conversation.model);
}

function selectModel(id: string): void {
  if (![...modelSelect.options].some((o) => o.value === id)) {
    modelSelect.append(new Option(`${id} (not loaded)`, id));
  }
  modelSelect.value = id;
}

// ---- API key ---------------------------------------------------------------------------------

const keyDialog = $<HTMLDialogElement>('key-dialog');
let keyWaiters: (() => void)[] = [];

function askForKey(message = ''): Promise<void> {
  $<HTMLParagraphElement>('key-error').textContent = message;
  if (!keyDialog.open) keyDialog.showModal();
  return new Promise((resolve) => keyWaiters.push(resolve));
}

$<HTMLFormElement>('key-form').addEventListener('submit', () => {
  setApiKey($<HTMLInputElement>('key-input').value.trim());
  const waiters = keyWaiters;
  keyWaiters = [];
  waiters.forEach((w) => w());
});

// Runs `call`, asking for the key on 401 until the server takes it.
async function withKey<T>(call: () => Promise<T>): Promise<T> {
  for (let asked = false; ; asked = true) {
    try {
      return await call();
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
      setApiKey(null);
      await askForKey(asked ? 'That key was refused.' : '');
    }
  }
}

// ---- models ----------------------------------------------------------------------------------

async function loadModels(): Promise<void> {
  const models = await withKey(listModels);
  const keep = modelSelect.value;
  modelSelect.replaceChildren(...models.map((m) => new Option(m.id, m.id)));
  if (!models.length) modelSelect.append(new Option('(no model loaded)', ''));
  if (keep) selectModel(keep);
}

// ---- documents picker ----------------------------------------------------------------------

function showStores(stores: VectorStore[]): void {
  const keep = ragSelect.value;
  ragSelect.replaceChildren(
    new Option('None', ''),
    ...stores.map((s) => new Option(s.name || s.id, s.id)),
  );
  if (stores.some((s) => s.id === keep)) ragSelect.value = keep;
}

async function loadStores(): Promise<void> {
  try {
    showStores(await withKey(listStores));
  } catch {
    // A server without RAG: the picker offers None only.
    showStores([]);
  }
}

// ---- conversation list -----------------------------------------------------------------------

let searchTimer = 0;
let listGeneration = 0;

async function refreshList(): Promise<void> {
  // Answers may arrive out of order (a search typed while the first list loads): only the
  // latest request's answer is shown.
  const generation = ++listGeneration;
  const items = await withKey(() => listConversations(search.value.trim()));
  if (generation !== listGeneration) return;
  const current = chat.current()?.id;
  listNode.replaceChildren(
    ...items.map((c) => {
      const li = document.createElement('li');
      if (c.id === current) li.className = 'current';
      const open = document.createElement('a');
      open.href = `/c/${encodeURIComponent(c.id)}`;
      open.className = 'open';
      open.textContent = c.title || 'Untitled';
      if (c.id === current) open.setAttribute('aria-current', 'page');
      open.addEventListener('click', (e) => {
        e.preventDefault();
        void openConversation(c.id, true);
      });
      const rename = document.createElement('button');
      rename.type = 'button';
      rename.textContent = 'Rename';
      rename.setAttribute('aria-label', `Rename ${c.title || 'Untitled'}`);
      rename.addEventListener('click', () => void renameConversation(c.id, c.title));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Delete';
      remove.setAttribute('aria-label', `Delete ${c.title || 'Untitled'}`);
      remove.addEventListener('click', () => void removeConversation(c.id, c.title));
      li.append(open, rename, remove);
      return li;
    }),
  );
  if (!items.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = search.value.trim() ? 'No conversation matches.' : 'No conversations yet.';
    listNode.append(li);
  }
}

async function renameConversation(id: string, title: string): Promise<void> {
  const next = prompt('New title', title);
  if (next === null || !next.trim()) return;
  const updated = await updateConversation(id, { title: next.trim() });
  chat.renamed(id, updated.title);
  await refreshList();
}

async function removeConversation(id: string, title: string): Promise<void> {
  if (!confirm(`Delete "${title || 'Untitled'}"?`)) return;
  await deleteConversation(id);
  if (chat.current()?.id === id) newChat(true);
  await refreshList();
}

async function openConversation(id: string, push: boolean): Promise<void> {
  try {
    const conversation = await withKey(() => getConversation(id));
    chat.show(conversation);
    showParams(conversation);
    exportButton.disabled = false;
    if (push) history.pushState(null, '', `/c/${encodeURIComponent(id)}`);
    chatLink.href = `/c/${encodeURIComponent(id)}`;
    closeSidebarOnPhone();
    await refreshList();
  } catch (e) {
    chat.show(null);
    history.replaceState(null, '', '/');
    chatLink.href = '/';
    alertMessage(`Could not open the conversation: ${(e as Error).message}`);
  }
}

function newChat(push: boolean): void {
  chat.show(null);
  showParams(null);
  exportButton.disabled = true;
  if (push) history.pushState(null, '', '/');
  chatLink.href = '/';
  void refreshList();
  chat.focusInput();
}

function alertMessage(text: string): void {
  const messages = $<HTMLDivElement>('messages');
  const p = document.createElement('p');
  p.className = 'message error';
  p.setAttribute('role', 'alert');
  p.textContent = text;
  messages.append(p);
}

// ---- layout and theme ------------------------------------------------------------------------

const sidebar = $<HTMLElement>('sidebar');
const sidebarToggle = $<HTMLButtonElement>('toggle-sidebar');
function setSidebar(open: boolean): void {
  sidebar.classList.toggle('open', open);
  sidebarToggle.setAttribute('aria-expanded', String(open));
}
function closeSidebarOnPhone(): void {
  if (window.matchMedia('(max-width: 760px)').matches) setSidebar(false);
}
sidebarToggle.addEventListener('click', () => setSidebar(!sidebar.classList.contains('open')));

const settings = $<HTMLElement>('settings');
const settingsToggle = $<HTMLButtonElement>('toggle-settings');
settingsToggle.addEventListener('click', () => {
  settings.hidden = !settings.hidden;
  settingsToggle.setAttribute('aria-expanded', String(!settings.hidden));
  if (!settings.hidden) systemPrompt.focus();
});

const themes = ['system', 'light', 'dark'] as const;
type Theme = (typeof themes)[number];
const themeButton = $<HTMLButtonElement>('theme-toggle');
function applyTheme(theme: Theme): void {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  // "Theme: " is hidden at phone width; the button's name stays the whole text.
  const word = document.createElement('span');
  word.className = 'theme-word';
  word.textContent = 'Theme: ';
  themeButton.replaceChildren(word, theme);
  themeButton.setAttribute('aria-label', `Theme: ${theme}`);
  localStorage.setItem('hearth.theme', theme);  // a preference, not a secret
}
themeButton.addEventListener('click', () => {
  const now = (localStorage.getItem('hearth.theme') as Theme) ?? 'system';
  applyTheme(themes[(themes.indexOf(now) + 1) % themes.length]);
});
applyTheme(((localStorage.getItem('hearth.theme') as Theme) ?? 'system') as Theme);

exportButton.addEventListener('click', async () => {
  const current = chat.current();
  if (!current) return;
  const blob = await exportConversation(current.id);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `${current.id}.json`;
  a.click();
  URL.revokeObjectURL(url);
});

// ---- start -----------------------------------------------------------------------------------

const chat = new ChatView({
  model: () => modelSelect.value,
  params: readParams,
  systemPrompt: () => systemPrompt.value.trim(),
  stores: () => (ragSelect.value ? [ragSelect.value] : []),
  saved: (conversation) => {
    exportButton.disabled = false;
    const path = `/c/${encodeURIComponent(conversation.id)}`;
    chatLink.href = path;
    // A reply that ends while another view is shown must not take the URL away from it.
    if (currentView() === 'chat' && location.pathname !== path) history.pushState(null, '', path);
    void refreshList();
  },
  listChanged: () => void refreshList(),
  needKey: () => void askForKey('The server asked for a key.'),
});

$<HTMLButtonElement>('new-chat').addEventListener('click', () => newChat(true));
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = window.setTimeout(() => void refreshList(), 200);
});

// The chat view answers / (a new chat) and /c/ID. Coming back to the conversation already on
// screen (the Chat link after another view) keeps it as it is, a reply still streaming too.
let chatShown = false;
registerView({
  name: 'chat',
  title: 'Chat',
  root: $<HTMLElement>('view-chat'),
  matches: (path) => path === '/' || /^\/c\/[^/]+$/.test(path),
  enter: (path) => {
    const match = /^\/c\/([^/]+)$/.exec(path);
    const id = match ? decodeURIComponent(match[1]) : null;
    const same = chatShown && (id ? chat.current()?.id === id : !chat.current());
    chatShown = true;
    if (same) {
      document.title = `${chat.current()?.title || 'New chat'} · hearth`;
      void refreshList();
      return;
    }
    if (id) void openConversation(id, false);
    else newChat(false);
  },
});

const models = new ModelsView(() => void loadModels().catch(() => undefined));
registerView({
  name: 'models',
  title: 'Models',
  root: $<HTMLElement>('view-models'),
  matches: (path) => path === '/models',
  enter: () => models.refresh(),
});

const documents = new DocumentsView({
  storesChanged: showStores,
  chatWith: (id) => {
    ragSelect.value = id;
    void navigate(chatLink.pathname);
  },
});
registerView({
  name: 'documents',
  title: 'Documents',
  root: $<HTMLElement>('view-documents'),
  matches: (path) => path === '/documents',
  enter: () => documents.refresh(),
  leave: () => documents.leave(),
});

// The Compare page builds itself the first time it is shown.
const compareRoot = document.createElement('main');
compareRoot.className = 'view compare-view';
let compare: { enter(): void } | null = null;
registerView({
  name: 'compare',
  title: 'Compare',
  root: compareRoot,
  matches: (path) => path === '/compare',
  enter: () => {
    compare ??= mountCompare(compareRoot);
    compare.enter();
  },
});

// The in-browser engine's page builds itself the first time it is shown.
const browserRoot = document.createElement('main');
browserRoot.className = 'view';
let browserPage: BrowserPage | null = null;
registerView({
  name: 'browser',
  title: 'In browser',
  root: browserRoot,
  matches: (path) => path === '/browser',
  enter: () => {
    browserPage ??= mountBrowser(browserRoot);
    browserPage.enter();
  },
  leave: () => browserPage?.leave(),
});

async function start(): Promise<void> {
  try {
    await loadModels();
  } catch (e) {
    alertMessage(`Could not list the models: ${(e as Error).message}`);
  }
  await loadStores();
  await startRouter();
  document.body.dataset.ready = 'true';  // the browser tests wait for this
}
void start();
