// The server's API as the app uses it: the OpenAI routes (/v1) for models and chat, and
// /ui/api for conversations. Every call carries the API key when the user gave one; the key
// lives in sessionStorage only (this tab, never written to disk by the app).

const KEY_STORAGE = 'hearth.apiKey';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (json) h['Content-Type'] = 'application/json';
  const key = apiKey();
  if (key) h['Authorization'] = `Bearer ${key}`;
  return h;
}

// The message of an error answer: {"error": {"message"}} (OpenAI) or {"error": "..."}.
async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    const e = body?.error;
    if (typeof e === 'string') message = e;
    else if (e && typeof e.message === 'string') message = e.message;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(message, res.status);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

export interface ModelCard {
  id: string;
  owned_by: string;
}

export async function listModels(): Promise<ModelCard[]> {
  const list = await request<{ data: ModelCard[] }>('GET', '/v1/models');
  return list.data;
}

// ---- conversations -------------------------------------------------------------------------

export interface Timings {
  queue_ms?: number;
  prompt_n?: number;
  prompt_ms?: number;
  prompt_per_second?: number;
  predicted_n?: number;
  predicted_ms?: number;
  predicted_per_second?: number;
  ttft_ms?: number;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface StoredMessage {
  role: 'user' | 'assistant' | 'error';
  content: string;
  model?: string;
  timings?: Timings;
  usage?: Usage;
  created_ms?: number;
}

export interface Params {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  seed?: number;
}

export interface ConversationSummary {
  id: string;
  title: string;
  model: string;
  created_ms: number;
  updated_ms: number;
  message_count: number;
}

export interface Conversation extends ConversationSummary {
  system_prompt: string;
  params: Params;
  messages: StoredMessage[];
}

export interface ConversationFields {
  title?: string;
  model?: string;
  system_prompt?: string;
  params?: Params;
  messages?: StoredMessage[];
}

const CONVERSATIONS = '/ui/api/conversations';

export async function listConversations(query: string): Promise<ConversationSummary[]> {
  const q = query ? `?q=${encodeURIComponent(query)}` : '';
  return (await request<{ data: ConversationSummary[] }>('GET', CONVERSATIONS + q)).data;
}

export const getConversation = (id: string) =>
  request<Conversation>('GET', `${CONVERSATIONS}/${encodeURIComponent(id)}`);
export const createConversation = (fields: ConversationFields) =>
  request<Conversation>('POST', CONVERSATIONS, fields);
export const updateConversation = (id: string, fields: ConversationFields) =>
  request<Conversation>('POST', `${CONVERSATIONS}/${encodeURIComponent(id)}`, fields);
export const deleteConversation = (id: string) =>
  request<unknown>('DELETE', `${CONVERSATIONS}/${encodeURIComponent(id)}`);

export async function exportConversation(id: string): Promise<Blob> {
  const res = await fetch(`${CONVERSATIONS}/${encodeURIComponent(id)}/export`, {
    headers: headers(false),
  });
  if (!res.ok) throw await errorOf(res);
  return res.blob();
}

// ---- chat ------------------------------------------------------------------------------------

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface StreamCallbacks {
  // The response as soon as its headers arrive (the router's X-Hearth-Target, say).
  onResponse?(res: Response): void;
  onText(text: string): void;
  // The last event: the server's timings and usage (absent from servers that send none).
  onDone(finish: string, timings?: Timings, usage?: Usage): void;
}

// Streams one chat completion. Resolves when the stream ends; rejects with ApiError for an
// error answer or an error event, and with the AbortError when `signal` aborts.
export async function streamChat(
  model: string,
  messages: ChatMessage[],
  params: Params,
  signal: AbortSignal,
  callbacks: StreamCallbacks,
): Promise<void> {
  const res = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: headers(true),
    body: JSON.stringify({
      model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      ...params,
    }),
    signal,
  });
  callbacks.onResponse?.(res);
  if (!res.ok) throw await errorOf(res);
  if (!res.body) throw new ApiError('the server sent no body', res.status);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let finish = 'stop';
  let timings: Timings | undefined;
  let usage: Usage | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
          callbacks.onDone(finish, timings, usage);
          return;
        }
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ApiError(chunk.error.message ?? String(chunk.error), 500);
        const choice = chunk.choices?.[0];
        const text = choice?.delta?.content;
        if (typeof text === 'string' && text) callbacks.onText(text);
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (chunk.timings) timings = chunk.timings;
        if (chunk.usage) usage = chunk.usage;
      }
    }
  }
  throw new ApiError('the stream ended before the reply was complete', 502);
}
