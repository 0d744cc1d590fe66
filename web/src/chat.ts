// The chat view: the message list (rendered Markdown, per-reply timings, copy, edit,
// regenerate), sending with streaming, stop, and saving each turn to the server.
import {
  ApiError,
  ChatMessage,
  Conversation,
  ConversationFields,
  Params,
  StoredMessage,
  Timings,
  createConversation,
  streamChat,
  updateConversation,
} from './api';
import { linkCitations } from './citations';
import { escapeHtml, renderMarkdown } from './markdown';

export interface ChatHost {
  model(): string;
  params(): Params;
  systemPrompt(): string;
  // The vector stores the reply is grounded in (the Documents picker); empty for none.
  stores(): string[];
  // A conversation was created or changed on the server (the list refreshes, the URL follows).
  saved(conversation: Conversation): void;
  // A conversation not on screen was saved (the list refreshes).
  listChanged(): void;
  // The server asked for a key (401): ask the user, then the turn can be sent again.
  needKey(): void;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

// "TTFT 120 ms · 45.1 tok/s · 12 tokens · prompt 320 tok/s"
export function timingsText(t: Timings | undefined, live = false): string {
  if (!t) return '';
  const parts: string[] = [];
  if (t.ttft_ms !== undefined) parts.push(`TTFT ${formatMs(t.ttft_ms)}`);
  if (t.predicted_per_second) parts.push(`${t.predicted_per_second.toFixed(1)} tok/s`);
  if (t.predicted_n !== undefined) parts.push(`${t.predicted_n} tokens`);
  if (!live && t.prompt_per_second) parts.push(`prompt ${t.prompt_per_second.toFixed(0)} tok/s`);
  if (!live && t.queue_ms !== undefined && t.queue_ms >= 1) parts.push(`queued ${formatMs(t.queue_ms)}`);
  return parts.join(' · ');
}

export class ChatView {
  private conversation: Conversation | null = null;
  private messages: StoredMessage[] = [];
  private abort: AbortController | null = null;
  // Bumped when another conversation is shown: a reply still finishing for the previous one
  // must not land in (or be saved to) the new one.
  private generation = 0;
  private readonly list = $<HTMLDivElement>('messages');
  private readonly input = $<HTMLTextAreaElement>('composer-input');
  private readonly send = $<HTMLButtonElement>('send');
  private readonly stop = $<HTMLButtonElement>('stop');
  private readonly title = $<HTMLHeadingElement>('chat-title');

  constructor(private readonly host: ChatHost) {
    $<HTMLFormElement>('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        void this.submit();
      }
    });
    this.stop.addEventListener('click', () => this.abort?.abort());
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.abort) this.abort.abort();
    });
  }

  current(): Conversation | null {
    return this.conversation;
  }

  streaming(): boolean {
    return this.abort !== null;
  }

  show(conversation: Conversation | null): void {
    this.generation++;
    this.abort?.abort();
    this.conversation = conversation;
    this.messages = conversation ? [...conversation.messages] : [];
    this.setTitle(conversation?.title);
    this.render();
  }

  // A rename from the list: the heading follows without disturbing a reply in progress.
  renamed(id: string, title: string): void {
    if (this.conversation?.id !== id) return;
    this.conversation = { ...this.conversation, title };
    this.setTitle(title);
  }

  focusInput(): void {
    this.input.focus();
  }

  private async submit(): Promise<void> {
    const text = this.input.value.trim();
    if (!text || this.abort) return;
    this.input.value = '';
    this.messages.push({ role: 'user', content: text, created_ms: Date.now() });
    await this.reply();
  }

  // Sends the conversation as it stands and streams the answer into a new message.
  private async reply(): Promise<void> {
    const model = this.host.model();
    const reply: StoredMessage = { role: 'assistant', content: '', model, created_ms: Date.now() };
    this.render();
    const node = this.appendMessage(reply, this.messages.length, true);
    const body = node.querySelector('.body') as HTMLDivElement;
    const meta = node.querySelector('.meta') as HTMLDivElement;

    const history: ChatMessage[] = [];
    const system = this.host.systemPrompt().trim();
    if (system) history.push({ role: 'system', content: system });
    for (const m of this.messages) {
      if (m.role === 'user' || m.role === 'assistant') history.push({ role: m.role, content: m.content });
    }

    // What this turn belongs to, fixed now: the view may move on before the reply ends.
    const generation = this.generation;
    const conversation = this.conversation;
    const messages = this.messages;
    const settings = {
      model,
      params: this.host.params(),
      system_prompt: this.host.systemPrompt(),
    };
    this.abort = new AbortController();
    this.setBusy(true);
    const started = performance.now();
    let firstAt = 0;
    let pieces = 0;
    let stopped = false;
    let failure: string | null = null;
    let scheduled = false;
    const paint = () => {
      scheduled = false;
      body.innerHTML = renderMarkdown(reply.content);
      const elapsed = performance.now() - firstAt;
      // Live estimate until the server's own timings arrive with the last event.
      meta.textContent = timingsText(
        {
          ttft_ms: firstAt - started,
          predicted_n: pieces,
          predicted_per_second: elapsed > 0 && pieces > 1 ? ((pieces - 1) * 1000) / elapsed : 0,
        },
        true,
      );
      this.scrollToEnd();
    };
    const stores = this.host.stores();
    const extras = stores.length ? { rag: { vector_store_ids: stores } } : {};
    try {
      await streamChat(model, history, this.host.params(), this.abort.signal, {
        onText: (text) => {
          if (!firstAt) firstAt = performance.now();
          pieces++;
          reply.content += text;
          if (!scheduled) {
            scheduled = true;
            requestAnimationFrame(paint);
          }
        },
        onDone: (_finish, timings, usage, citations) => {
          reply.timings = timings;
          reply.usage = usage;
          if (citations?.length) reply.citations = citations;
        },
      }, extras);
    } catch (e) {
      if ((e as Error).name === 'AbortError') {
        stopped = true;
      } else {
        failure = (e as Error).message;
        if (e instanceof ApiError && e.status === 401) this.host.needKey();
      }
    } finally {
      this.abort = null;
      this.setBusy(false);
    }
    // The turn is saved to the conversation it belongs to even when the user has moved to
    // another one meanwhile; only the view it was started in shows it.
    if (reply.content || stopped) messages.push(reply);
    if (failure !== null) {
      messages.push({ role: 'error', content: failure, model, created_ms: Date.now() });
    }
    const visible = generation === this.generation;
    if (visible) this.render(stopped ? 'Stopped.' : failure !== null ? '' : 'Reply complete.');
    const saved = await this.save(conversation, { ...settings, messages });
    if (!saved) return;
    if (generation === this.generation) {
      this.conversation = saved;
      this.setTitle(saved.title);
      this.host.saved(saved);
    } else {
      this.host.listChanged();
    }
  }

  // Creates or updates the conversation on the server; null (and a message) when that fails.
  private async save(
    conversation: Conversation | null,
    fields: ConversationFields,
  ): Promise<Conversation | null> {
    try {
      if (conversation) return await updateConversation(conversation.id, fields);
      const first = fields.messages?.find((m) => m.role === 'user')?.content ?? 'New chat';
      return await createConversation({ ...fields, title: first.slice(0, 60) });
    } catch (e) {
      this.announce(`Could not save the conversation: ${(e as Error).message}`);
      return null;
    }
  }

  // The heading and the tab's title (what a screen reader announces on navigation).
  private setTitle(title: string | undefined): void {
    this.title.textContent = title || 'New chat';
    document.title = `${title || 'New chat'} · hearth`;
  }

  private setBusy(busy: boolean): void {
    this.send.disabled = busy;
    this.stop.hidden = !busy;
    if (busy) this.stop.focus();
    else if (document.activeElement === this.stop || document.activeElement === document.body) {
      this.input.focus();
    }
  }

  private scrollToEnd(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }

  private announce(text: string): void {
    let status = document.getElementById('chat-status');
    if (!status) {
      status = document.createElement('p');
      status.id = 'chat-status';
      status.className = 'visually-hidden';
      status.setAttribute('role', 'status');
      document.body.append(status);
    }
    status.textContent = text;
  }

  private render(announcement = ''): void {
    this.list.replaceChildren();
    if (!this.messages.length) {
      const empty = document.createElement('p');
      empty.className = 'empty';
      empty.textContent = 'Send a message to start.';
      this.list.append(empty);
    }
    this.messages.forEach((m, i) => this.appendMessage(m, i, false));
    if (announcement) this.announce(announcement);
    this.scrollToEnd();
  }

  private appendMessage(m: StoredMessage, index: number, streaming: boolean): HTMLElement {
    const node = document.createElement('article');
    node.className = `message ${m.role}`;
    const who = m.role === 'user' ? 'You' : m.role === 'error' ? 'Error' : m.model || 'Assistant';
    node.setAttribute('aria-label', `${m.role === 'user' ? 'You' : who} said`);
    if (m.role === 'error') node.setAttribute('role', 'alert');
    if (streaming) node.setAttribute('aria-busy', 'true');
    // The role line and model id are escaped like any text from the server.
    node.innerHTML =
      `<div class="who">${escapeHtml(who)}</div>` +
      `<div class="body"></div><div class="meta"></div><div class="actions"></div>`;
    const body = node.querySelector('.body') as HTMLDivElement;
    if (m.role === 'assistant') {
      body.innerHTML = renderMarkdown(m.content);
      linkCitations(body, m.citations);
    } else body.textContent = m.content;  // the user's own words and errors stay plain text
    (node.querySelector('.meta') as HTMLDivElement).textContent = timingsText(m.timings);
    if (!streaming) this.addActions(node.querySelector('.actions') as HTMLDivElement, m, index);
    this.list.append(node);
    return node;
  }

  private addActions(actions: HTMLDivElement, m: StoredMessage, index: number): void {
    const button = (label: string, name: string, onClick: () => void) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.className = `action-${name}`;
      b.setAttribute('aria-label', `${label} message ${index + 1}`);
      b.addEventListener('click', onClick);
      actions.append(b);
    };
    button('Copy', 'copy', () => void this.copy(m.content));
    if (m.role === 'user') button('Edit', 'edit', () => this.edit(index));
    const last = index === this.messages.length - 1;
    if (last && m.role !== 'user') {
      button('Regenerate', 'regenerate', () => {
        if (this.abort) return;
        // Drop the answer (and an error after it) back to the last user turn, then ask again.
        while (this.messages.length && this.messages[this.messages.length - 1].role !== 'user') {
          this.messages.pop();
        }
        if (this.messages.length) void this.reply();
      });
    }
  }

  private async copy(text: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      this.announce('Copied.');
    } catch {
      this.announce('Copying is not allowed here; select the text instead.');
    }
  }

  // Edit-and-resend: the message becomes a text box; saving drops every later turn.
  private edit(index: number): void {
    if (this.abort) return;
    const node = this.list.children[index] as HTMLElement;
    const body = node.querySelector('.body') as HTMLDivElement;
    const actions = node.querySelector('.actions') as HTMLDivElement;
    const box = document.createElement('textarea');
    box.value = this.messages[index].content;
    box.rows = 3;
    box.setAttribute('aria-label', `Edit message ${index + 1}`);
    body.replaceChildren(box);
    actions.replaceChildren();
    const save = document.createElement('button');
    save.type = 'button';
    save.textContent = 'Send edited';
    save.className = 'primary';
    save.addEventListener('click', () => {
      const text = box.value.trim();
      if (!text) return;
      this.messages = this.messages.slice(0, index);
      this.messages.push({ role: 'user', content: text, created_ms: Date.now() });
      void this.reply();
    });
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', () => this.render());
    actions.append(save, cancel);
    box.focus();
  }
}
