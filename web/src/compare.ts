// The Compare page (/compare): one prompt, or a small set, sent to 2-4 models from /v1/models
// (local models and router routes), one pane per model side by side, each with live figures
// while it streams (time to first token, prompt and generation tokens/s, total time, tokens,
// cost), in fair mode (one request at a time, so local models do not share the CPU) or
// concurrent mode; a failing pane shows its error and the others go on; Export downloads the
// results as JSON. Model text is only ever set as textContent.
import { ApiError, ModelCard, Timings, Usage, listModels, request, streamChat } from './api';

type Mode = 'fair' | 'concurrent';

interface TargetStatus {
  name: string;
  kind: 'local' | 'openai';
  base_url?: string;
  replicas?: { base_url?: string }[];
  price_per_mtok?: { input: number; output: number };
}

interface RouterStatus {
  routes: { name: string; targets: string[] }[];
  targets: TargetStatus[];
}

interface Result {
  prompt: number;
  state: 'waiting' | 'streaming' | 'done' | 'error';
  mode: Mode;
  answer: string;
  chunks: number;
  error?: string;
  started?: number;
  first?: number;
  ttft_ms?: number;
  total_ms?: number;
  timings?: Timings;
  usage?: Usage;
  target?: string;
  cost_usd?: number | null;
}

const FIGURES = [
  ['ttft', 'TTFT'],
  ['prompt-tps', 'Prompt tok/s'],
  ['gen-tps', 'Generation tok/s'],
  ['total', 'Total time'],
  ['tokens', 'Tokens (in / out)'],
  ['cost', 'Cost'],
] as const;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function ms(value: number | undefined): string {
  if (value === undefined) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

function rate(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(1);
}

function hostOf(url: string | undefined): string {
  if (!url) return '';
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

// The prompt text split into prompts at lines holding only "---".
export function splitPrompts(text: string): string[] {
  return text
    .split(/^\s*---\s*$/m)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

class Pane {
  readonly node: HTMLElement;
  readonly results: Result[] = [];
  private readonly status: HTMLElement;
  private readonly list: HTMLElement;
  private readonly resultNodes: HTMLElement[] = [];

  constructor(
    readonly model: string,
    readonly where: string,
    readonly route: boolean,
    private readonly prices: Map<string, TargetStatus>,
    prompts: string[],
    mode: Mode,
    index: number,
  ) {
    const titleId = `compare-pane-title-${index}`;
    this.status = el('p', { className: 'compare-status' });
    this.status.setAttribute('aria-live', 'polite');
    this.list = el('div', { className: 'compare-results' });
    this.node = el(
      'article',
      { className: 'compare-pane' },
      el(
        'header',
        {},
        el('h3', { id: titleId, textContent: model }),
        el('span', { className: 'compare-where', textContent: where }),
        el('span', {
          className: `compare-mode compare-mode-${mode}`,
          textContent: mode === 'fair' ? 'fair: one at a time' : 'concurrent',
        }),
      ),
      this.status,
      this.list,
    );
    this.node.setAttribute('aria-labelledby', titleId);
    this.node.dataset.model = model;
    prompts.forEach((_, p) => {
      this.results.push({ prompt: p, state: 'waiting', mode, answer: '', chunks: 0 });
      const figures = el('dl', { className: 'compare-figures' });
      for (const [key, label] of FIGURES) {
        const dd = el('dd', { textContent: '—' });
        dd.dataset.figure = key;
        figures.append(el('div', {}, el('dt', { textContent: label }), dd));
      }
      const node = el(
        'section',
        { className: 'compare-result' },
        ...(prompts.length > 1 ? [el('h4', { textContent: `Prompt ${p + 1}` })] : []),
        figures,
        el('div', { className: 'compare-answer' }),
        el('p', { className: 'compare-error', hidden: true }),
      );
      node.dataset.state = 'waiting';
      this.resultNodes.push(node);
      this.list.append(node);
    });
    this.render();
  }

  // Sends prompt `p` and updates the pane as the reply streams; never throws.
  async run(p: number, text: string, maxTokens: number, signal: AbortSignal): Promise<void> {
    const r = this.results[p];
    r.state = 'streaming';
    r.started = performance.now();
    const ticker = window.setInterval(() => this.render(), 100);
    this.render();
    try {
      await streamChat(
        this.model,
        [{ role: 'user', content: text }],
        { max_tokens: maxTokens },
        signal,
        {
          onResponse: (res) => {
            r.target = res.headers.get('X-Hearth-Target') ?? undefined;
          },
          onText: (piece) => {
            if (r.first === undefined) {
              r.first = performance.now();
              r.ttft_ms = r.first - (r.started ?? r.first);
            }
            r.answer += piece;
            r.chunks += 1;
            this.render();
          },
          onDone: (_finish, timings, usage) => {
            r.total_ms = performance.now() - (r.started ?? 0);
            r.timings = timings;
            r.usage = usage;
            r.cost_usd = this.cost(r);
            r.state = 'done';
          },
        },
      );
    } catch (e) {
      r.total_ms = performance.now() - (r.started ?? 0);
      r.state = 'error';
      r.error =
        (e as Error).name === 'AbortError'
          ? 'stopped'
          : e instanceof ApiError
            ? e.message
            : `request failed: ${(e as Error).message}`;
    } finally {
      window.clearInterval(ticker);
      this.render();
    }
  }

  // USD for a finished reply: 0 on this machine, else usage at the answering target's prices;
  // null when a priced target's reply carried no usage.
  private cost(r: Result): number | null {
    if (!this.route) return 0;
    const target = this.prices.get((r.target ?? '').split('#')[0]);
    if (!target || target.kind === 'local' || !target.price_per_mtok) return 0;
    if (!r.usage) return null;
    const { input, output } = target.price_per_mtok;
    return (r.usage.prompt_tokens * input + r.usage.completion_tokens * output) / 1e6;
  }

  private render(): void {
    const now = performance.now();
    this.results.forEach((r, p) => {
      const node = this.resultNodes[p];
      node.dataset.state = r.state;
      node.setAttribute('aria-busy', String(r.state === 'streaming'));
      const set = (key: string, value: string) => {
        const dd = node.querySelector<HTMLElement>(`dd[data-figure="${key}"]`);
        if (dd && dd.textContent !== value) dd.textContent = value;
      };
      const elapsed = r.total_ms ?? (r.started !== undefined ? now - r.started : undefined);
      set('ttft', ms(r.ttft_ms));
      set('total', ms(elapsed));
      const t = r.timings;
      set('prompt-tps', rate(t?.prompt_per_second));
      // Live: pieces per second since the first (about one token each); the server's own rate
      // replaces it when the reply ends with timings.
      let gen = t?.predicted_per_second;
      if (gen === undefined && r.first !== undefined && r.chunks > 1) {
        const end = r.state === 'streaming' ? now : r.first + ((r.total_ms ?? 0) - (r.ttft_ms ?? 0));
        gen = (r.chunks - 1) / Math.max((end - r.first) / 1000, 1e-3);
      }
      set('gen-tps', rate(gen));
      set(
        'tokens',
        r.usage
          ? `${r.usage.prompt_tokens} / ${r.usage.completion_tokens}`
          : r.chunks
            ? `— / ~${r.chunks}`
            : '—',
      );
      set(
        'cost',
        r.state !== 'done'
          ? '—'
          : r.cost_usd === null || r.cost_usd === undefined
            ? 'unknown (no usage)'
            : `$${r.cost_usd.toFixed(6)}`,
      );
      const answer = node.querySelector<HTMLElement>('.compare-answer');
      if (answer && answer.textContent !== r.answer) answer.textContent = r.answer;
      const error = node.querySelector<HTMLElement>('.compare-error');
      if (error) {
        error.hidden = r.state !== 'error';
        error.textContent = r.state === 'error' ? `Error: ${r.error}` : '';
        if (r.state === 'error') error.setAttribute('role', 'alert');
      }
    });
    const states = this.results.map((r) => r.state);
    this.status.textContent = states.includes('streaming')
      ? 'streaming…'
      : states.every((s) => s === 'waiting')
        ? 'waiting'
        : states.includes('waiting')
          ? 'waiting for its turn'
          : states.includes('error')
            ? `${states.filter((s) => s === 'error').length} of ${states.length} failed`
            : 'done';
  }
}

export function mountCompare(root: HTMLElement): { enter(): void } {
  const selects: HTMLSelectElement[] = [];
  const modelsSet = el('fieldset', { className: 'compare-models' }, el('legend', { textContent: 'Models (2 to 4)' }));
  for (let i = 0; i < 4; i += 1) {
    const select = el('select', { id: `compare-model-${i}` });
    selects.push(select);
    modelsSet.append(el('label', {}, `Model ${i + 1} `, select));
  }
  const prompts = el('textarea', {
    id: 'compare-prompts',
    rows: 4,
    placeholder: 'A prompt. Several: separate them with a line holding only ---',
  });
  const maxTokens = el('input', { id: 'compare-max-tokens', type: 'number', min: '1', step: '1', value: '128' });
  const fair = el('input', { type: 'radio', name: 'compare-mode', value: 'fair', checked: true, id: 'compare-fair' });
  const concurrent = el('input', { type: 'radio', name: 'compare-mode', value: 'concurrent', id: 'compare-concurrent' });
  const runButton = el('button', { type: 'submit', className: 'primary', id: 'compare-run', textContent: 'Compare' });
  const stopButton = el('button', { type: 'button', id: 'compare-stop', textContent: 'Stop', disabled: true });
  const exportButton = el('button', { type: 'button', id: 'compare-export', textContent: 'Export JSON', disabled: true });
  const formError = el('p', { className: 'form-error', id: 'compare-error' });
  formError.setAttribute('role', 'alert');
  const panes = el('div', { className: 'compare-panes', id: 'compare-panes' });
  const form = el(
    'form',
    { className: 'compare-form', id: 'compare-form' },
    modelsSet,
    el('label', { className: 'compare-prompts' }, 'Prompts', prompts),
    el(
      'div',
      { className: 'compare-options' },
      el('label', {}, 'Max tokens ', maxTokens),
      el(
        'fieldset',
        { className: 'compare-mode-choice' },
        el('legend', { textContent: 'Mode' }),
        el('label', {}, fair, ' Fair (one request at a time)'),
        el('label', {}, concurrent, ' Concurrent (all at once)'),
      ),
      runButton,
      stopButton,
      exportButton,
    ),
    formError,
  );
  root.replaceChildren(el('h2', { className: 'compare-title', textContent: 'Compare models' }), form, panes);

  let cards: ModelCard[] = [];
  let router: RouterStatus | null = null;
  let current: { panes: Pane[]; prompts: string[]; mode: Mode; maxTokens: number; started: string } | null = null;
  let abort: AbortController | null = null;

  function fillSelects(): void {
    selects.forEach((select, i) => {
      const keep = select.value;
      select.replaceChildren(
        new Option('(none)', ''),
        ...cards.map((c) => new Option(c.owned_by === 'hearth-router' ? `${c.id} (route)` : c.id, c.id)),
      );
      if (keep && cards.some((c) => c.id === keep)) select.value = keep;
      else if (i < 2 && cards[i]) select.value = cards[i].id;
    });
  }

  function describe(model: string): { where: string; route: boolean } {
    const card = cards.find((c) => c.id === model);
    if (card?.owned_by !== 'hearth-router') return { where: 'local · this machine', route: false };
    const route = router?.routes.find((r) => r.name === model);
    const hosts = (route?.targets ?? []).map((name) => {
      const t = router?.targets.find((x) => x.name === name);
      if (!t || t.kind === 'local') return `${name}: this machine`;
      const urls = t.base_url ? [t.base_url] : (t.replicas ?? []).map((r) => r.base_url);
      return `${name}: ${urls.map(hostOf).join(', ')}`;
    });
    return { where: `route · ${hosts.join('; ') || 'targets unknown'}`, route: true };
  }

  async function refresh(): Promise<void> {
    try {
      cards = await listModels();
    } catch (e) {
      formError.textContent = `Could not list the models: ${(e as Error).message}`;
    }
    try {
      router = await request<RouterStatus>('GET', '/v1/router/status');
    } catch {
      router = null;  // no router: every model is local
    }
    fillSelects();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  stopButton.addEventListener('click', () => abort?.abort());
  exportButton.addEventListener('click', () => {
    if (!current) return;
    const doc = {
      object: 'hearth.compare.page',
      version: 1,
      started: current.started,
      mode: current.mode,
      max_tokens: current.maxTokens,
      prompts: current.prompts,
      models: current.panes.map((p) => ({
        model: p.model,
        where: p.where,
        results: p.results.map((r) => ({
          prompt: r.prompt,
          ok: r.state === 'done',
          error: r.state === 'error' ? r.error : undefined,
          ttft_ms: r.ttft_ms,
          total_ms: r.total_ms,
          timings: r.timings,
          usage: r.usage,
          target: r.target,
          cost_usd: r.cost_usd,
          answer: r.answer,
        })),
      })),
    };
    const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
    const a = el('a', { href: url, download: 'hearth-compare.json' });
    a.click();
    URL.revokeObjectURL(url);
  });

  async function run(): Promise<void> {
    const chosen = selects.map((s) => s.value).filter((v) => v);
    const texts = splitPrompts(prompts.value);
    const tokens = Number(maxTokens.value);
    formError.textContent = '';
    if (chosen.length < 2) return void (formError.textContent = 'Choose at least two models.');
    if (new Set(chosen).size !== chosen.length) return void (formError.textContent = 'Choose different models.');
    if (!texts.length) return void (formError.textContent = 'Write a prompt.');
    if (texts.length > 10) return void (formError.textContent = 'At most 10 prompts at a time.');
    if (!Number.isInteger(tokens) || tokens < 1) return void (formError.textContent = 'Max tokens must be a whole number from 1.');
    const mode: Mode = concurrent.checked ? 'concurrent' : 'fair';
    const prices = new Map((router?.targets ?? []).map((t) => [t.name, t]));
    const list = chosen.map((m, i) => {
      const { where, route } = describe(m);
      return new Pane(m, where, route, prices, texts, mode, i);
    });
    current = { panes: list, prompts: texts, mode, maxTokens: tokens, started: new Date().toISOString() };
    panes.replaceChildren(...list.map((p) => p.node));
    panes.dataset.count = String(list.length);
    abort = new AbortController();
    runButton.disabled = true;
    stopButton.disabled = false;
    exportButton.disabled = true;
    root.setAttribute('aria-busy', 'true');
    for (let p = 0; p < texts.length; p += 1) {
      if (mode === 'fair') {
        for (const pane of list) await pane.run(p, texts[p], tokens, abort.signal);
      } else {
        await Promise.all(list.map((pane) => pane.run(p, texts[p], tokens, abort!.signal)));
      }
    }
    abort = null;
    runButton.disabled = false;
    stopButton.disabled = true;
    exportButton.disabled = false;
    root.removeAttribute('aria-busy');
    root.dataset.finished = String(Number(root.dataset.finished ?? 0) + 1);  // tests wait for it
  }

  return {
    enter() {
      void refresh();
      prompts.focus();
    },
  };
}
