// The "In browser" page (/browser?model=ID): the model runs in this tab through the JS
// package's Hearth (wasm/js/hearth.js, served at /hearth.js): downloaded from this server's
// /v1/models/ID/file into the browser's private storage (OPFS, verified by sha256) with a
// progress bar, then chat with it, the backend chosen and why, and prompt/generation tokens
// per second. The backend picker also offers the server itself, for comparison.
//
// Everything a model writes goes in through textContent: a reply is untrusted text.
import { el, formatBytes } from './dom';

// What this page uses of hearth.js (a plain ES module served next to the app, loaded at run
// time: it is not bundled, so the worker and wasm files it finds beside itself stay in step).
interface ChatChunk {
  choices: { delta: { content?: string }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}
interface BackendReport {
  backend: string;
  reason: string;
  tokensPerSecond: { prompt: number | null; generation: number | null };
  download?: { cache?: string; bytesFetched?: number; fromCache?: boolean };
  model?: { bytes?: number; arch?: string };
  persisted?: boolean | null;
  wasm?: { build: string; threads: number; reason: string };
}
interface HearthInstance {
  chat: { completions: { create(request: object): Promise<AsyncIterable<ChatChunk>> } };
  backendReport: BackendReport;
  unload(): void;
}
interface HearthModule {
  Hearth: { create(options: object): Promise<HearthInstance> };
}
interface Progress {
  phase: string;
  loaded: number;
  total: number;
}

type Turn = { role: 'user' | 'assistant'; content: string };

export interface BrowserPage {
  enter(): void;
  leave(): void;
}

// The page's handle for tests and curious users (window.hearthBrowser): the loaded Hearth.
declare global {
  interface Window {
    hearthBrowser?: { hearth: HearthInstance | null; modelUrl: string | null };
  }
}

export function mountBrowser(root: HTMLElement): BrowserPage {
  root.classList.add('page', 'browser-view');
  root.setAttribute('aria-labelledby', 'browser-title');
  const title = el('h2', 'Run a model in this browser');
  title.id = 'browser-title';
  const intro = el('p', 'The model is downloaded once into this browser\'s private storage, ' +
    'checked against its sha256, and runs in this tab (WebAssembly in a worker, WebGPU when ' +
    'it passes its check). Nothing you type leaves the tab unless you pick the server backend.');

  const form = el('form', '', 'card inline-form browser-setup');
  const modelLabel = el('label', 'Model ');
  const modelInput = el('input');
  modelInput.id = 'browser-model';
  modelInput.required = true;
  modelInput.autocomplete = 'off';
  modelLabel.append(modelInput);
  const backendLabel = el('label', 'Backend ');
  const backendSelect = el('select');
  backendSelect.id = 'browser-backend';
  for (const [value, text] of [['auto', 'Auto (WebGPU, else WebAssembly)'],
    ['webgpu', 'WebGPU'], ['wasm', 'WebAssembly'], ['server', 'This hearth server']]) {
    backendSelect.append(new Option(text, value));
  }
  backendLabel.append(backendSelect);
  const loadButton = el('button', 'Load', 'primary');
  loadButton.type = 'submit';
  loadButton.id = 'browser-load';
  form.append(modelLabel, backendLabel, loadButton);

  const progressCard = el('section', '', 'card');
  progressCard.setAttribute('aria-label', 'Loading');
  const progress = el('progress');
  progress.id = 'browser-progress';
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute('aria-label', 'Model download');
  const status = el('p', 'Choose a model and press Load.', 'browser-status');
  status.id = 'browser-status';
  status.setAttribute('role', 'status');
  progressCard.append(progress, status);

  const report = el('dl', '', 'card browser-report');
  report.id = 'browser-report';
  report.setAttribute('aria-label', 'Backend');

  const messages = el('div', '', 'messages browser-messages');
  messages.id = 'browser-messages';
  messages.setAttribute('role', 'log');
  messages.setAttribute('aria-live', 'polite');
  messages.setAttribute('aria-label', 'Messages');
  // A scrolling region keyboard users must be able to reach (it holds no controls).
  messages.tabIndex = 0;

  const composer = el('form', '', 'composer');
  const inputLabel = el('label', 'Message', 'visually-hidden');
  inputLabel.htmlFor = 'browser-input';
  const input = el('textarea');
  input.id = 'browser-input';
  input.rows = 2;
  input.placeholder = 'Message (Enter sends, Shift+Enter for a new line)';
  const actions = el('div', '', 'composer-actions');
  const send = el('button', 'Send', 'primary');
  send.type = 'submit';
  send.id = 'browser-send';
  const stop = el('button', 'Stop');
  stop.type = 'button';
  stop.hidden = true;
  actions.append(send, stop);
  composer.append(inputLabel, input, actions);

  root.append(title, intro, form, progressCard, report, messages, composer);

  let hearth: HearthInstance | null = null;
  let turns: Turn[] = [];
  let busy = false;
  let stopRequested = false;
  window.hearthBrowser = { hearth: null, modelUrl: null };

  const setBusy = (on: boolean) => {
    busy = on;
    send.disabled = on || !hearth;
    input.disabled = !hearth;
    loadButton.disabled = on;
    stop.hidden = !on || !hearth;
  };
  setBusy(false);

  function showReport(r: BackendReport | null): void {
    report.replaceChildren();
    if (!r) return;
    const row = (name: string, value: string, id: string) => {
      const dt = el('dt', name);
      const dd = el('dd', value);
      dd.id = id;
      report.append(dt, dd);
    };
    const tps = (v: number | null) => (v == null ? '–' : `${v.toFixed(1)} tokens/s`);
    row('Backend', r.backend, 'browser-backend-name');
    row('Why', r.reason, 'browser-backend-reason');
    if (r.wasm) {
      const threads = `${r.wasm.threads} ${r.wasm.threads === 1 ? 'thread' : 'threads'}`;
      row('Threads', `${threads} (${r.wasm.reason})`, 'browser-threads');
    }
    row('Prompt', tps(r.tokensPerSecond.prompt), 'browser-tps-prompt');
    row('Generation', tps(r.tokensPerSecond.generation), 'browser-tps-generation');
    if (r.download?.cache) {
      const fetched = r.download.bytesFetched ? `, ${formatBytes(r.download.bytesFetched)} downloaded` : '';
      row('Cache', `${r.download.cache}${fetched}`, 'browser-cache');
    }
  }

  function addMessage(role: 'user' | 'assistant' | 'error', text: string): HTMLElement {
    const box = el('div', '', `message ${role}`);
    const who = el('div', role === 'user' ? 'You' : role === 'error' ? 'Error' : 'Model', 'who');
    const body = el('div', text, 'body');
    box.append(who, body);
    if (role === 'error') box.setAttribute('role', 'alert');
    messages.append(box);
    messages.scrollTop = messages.scrollHeight;
    return body;
  }

  async function load(): Promise<void> {
    const id = modelInput.value.trim();
    const backend = backendSelect.value;
    if (!id) return;
    hearth?.unload();
    hearth = null;
    window.hearthBrowser = { hearth: null, modelUrl: null };
    turns = [];
    messages.replaceChildren();
    showReport(null);
    setBusy(true);
    document.body.dataset.browserState = 'loading';
    progress.value = 0;
    status.textContent = backend === 'server' ? 'Connecting…' : 'Starting the engine…';
    const modelUrl = `/v1/models/${encodeURIComponent(id)}/file`;
    try {
      // A variable keeps esbuild from bundling it: hearth.js is served beside the app.
      const url = '/hearth.js';
      const { Hearth } = (await import(url)) as HearthModule;
      hearth = await Hearth.create({
        backend,
        model: backend === 'server' ? undefined : modelUrl,
        modelId: id,
        onProgress: (p: Progress) => {
          progress.value = p.total ? p.loaded / p.total : 0;
          const what = p.phase === 'download' ? 'Downloading' : 'Reading the cached copy';
          status.textContent = `${what}: ${formatBytes(p.loaded)} of ${formatBytes(p.total)}`;
        },
      });
      progress.value = 1;
      status.textContent = `Ready: ${id} on ${hearth.backendReport.backend}.`;
      window.hearthBrowser = { hearth, modelUrl: backend === 'server' ? null : modelUrl };
      showReport(hearth.backendReport);
      document.body.dataset.browserState = 'ready';
      const next = `/browser?model=${encodeURIComponent(id)}`;
      if (location.pathname + location.search !== next) window.history.replaceState(null, '', next);
    } catch (e) {
      status.textContent = `Could not load ${id}.`;
      addMessage('error', (e as Error).message);
      document.body.dataset.browserState = 'failed';
    } finally {
      setBusy(false);
    }
  }

  async function ask(text: string): Promise<void> {
    if (!hearth || busy) return;
    turns.push({ role: 'user', content: text });
    addMessage('user', text);
    const body = addMessage('assistant', '');
    body.parentElement!.setAttribute('aria-busy', 'true');
    setBusy(true);
    stopRequested = false;
    let reply = '';
    try {
      const stream = await hearth.chat.completions.create({
        messages: turns, stream: true, max_tokens: 256,
      });
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta.content;
        if (piece) {
          reply += piece;
          body.textContent = reply;
          messages.scrollTop = messages.scrollHeight;
        }
        if (stopRequested) break;
      }
      turns.push({ role: 'assistant', content: reply });
      showReport(hearth.backendReport);
    } catch (e) {
      turns.pop();
      addMessage('error', (e as Error).message);
    } finally {
      body.parentElement!.removeAttribute('aria-busy');
      setBusy(false);
      input.focus();
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void load();
  });
  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    void ask(text);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      composer.requestSubmit();
    } else if (e.key === 'Escape') {
      stopRequested = true;
    }
  });
  stop.addEventListener('click', () => {
    stopRequested = true;
  });

  return {
    enter() {
      const wanted = new URLSearchParams(location.search).get('model');
      if (wanted && wanted !== modelInput.value) {
        modelInput.value = wanted;
        void load();
      }
    },
    leave() {},
  };
}
