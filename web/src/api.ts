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

// A source a grounded reply cites as [n] (the reply's `citations`, docs/rag.md).
export interface Citation {
  n: number;
  file_id: string;
  filename: string;
  page: number;
  char_start: number;
  char_end: number;
  quote: string;
}

export interface StoredMessage {
  role: 'user' | 'assistant' | 'error';
  content: string;
  model?: string;
  timings?: Timings;
  usage?: Usage;
  citations?: Citation[];
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
  // The last event: the server's timings and usage (absent from servers that send none),
  // and a grounded reply's citations.
  onDone(finish: string, timings?: Timings, usage?: Usage, citations?: Citation[]): void;
}

// Extra request fields: `rag` grounds the reply in these vector stores.
export interface ChatExtras {
  rag?: { vector_store_ids: string[] };
}

// Streams one chat completion. Resolves when the stream ends; rejects with ApiError for an
// error answer or an error event, and with the AbortError when `signal` aborts.
export async function streamChat(
  model: string,
  messages: ChatMessage[],
  params: Params,
  signal: AbortSignal,
  callbacks: StreamCallbacks,
  extras: ChatExtras = {},
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
      ...extras,
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
  let citations: Citation[] | undefined;
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
          callbacks.onDone(finish, timings, usage, citations);
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
        if (Array.isArray(chunk.citations)) citations = chunk.citations;
      }
    }
  }
  throw new ApiError('the stream ended before the reply was complete', 502);
}

// ---- models (the Foundry-style management routes, docs/api.md) ---------------------------------

export interface CatalogRow {
  name: string;  // alias:quantization
  alias: string;
  displayName: string;
  task: string;
  fileSizeMb: number;
  license: string;
  parameters: string;
  quantization: string;
  cached: boolean;
}

export interface LoadedModel {
  id: string;
  path: string;
  memory_bytes: number;
  in_flight: number;
  ttl_seconds: number;
  ttl_left_seconds: number;
}

export interface Loaded {
  models: LoadedModel[];
  memory_budget_bytes: number;
  memory_used_bytes: number;
}

export interface RouterStatus {
  routes: { name: string; policy: string; targets: string[] }[];
  targets: { name: string; kind: string; model: string; healthy?: boolean }[];
}

export const listCatalog = () => request<CatalogRow[]>('GET', '/foundry/list');
export const listLoaded = () => request<Loaded>('GET', '/hearth/loaded');
export const loadModel = (name: string) =>
  request<unknown>('GET', `/openai/load/${encodeURIComponent(name)}`);
export const unloadModel = (name: string) =>
  request<unknown>('GET', `/openai/unload/${encodeURIComponent(name)}`);

// The router's status, or null when this server runs no router (404).
export async function routerStatus(): Promise<RouterStatus | null> {
  try {
    return await request<RouterStatus>('GET', '/v1/router/status');
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

// Downloads a catalog model; `onProgress` gets the percentage from the progress lines the
// server streams ("Total 42.00% Downloading NAME"); the last line is JSON with the outcome.
export async function downloadModel(name: string, onProgress: (pct: number) => void): Promise<void> {
  const res = await fetch('/openai/download', {
    method: 'POST',
    headers: headers(true),
    body: JSON.stringify({ model: { Name: name } }),
  });
  if (!res.ok) throw await errorOf(res);
  if (!res.body) throw new ApiError('the server sent no body', res.status);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let outcome: { success?: boolean; errorMessage?: string | null } | null = null;
  const take = (line: string) => {
    const pct = /^Total ([\d.]+)%/.exec(line);
    if (pct) onProgress(Number(pct[1]));
    else if (line.startsWith('{')) outcome = JSON.parse(line);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n')) >= 0) {
      take(buffer.slice(0, end).trim());
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer.trim()) take(buffer.trim());
  const result = outcome as { success?: boolean; errorMessage?: string | null } | null;
  if (!result) throw new ApiError('the download ended without an outcome', 502);
  if (!result.success) throw new ApiError(result.errorMessage || 'the download failed', 502);
}

// ---- documents (OpenAI's Files and Vector Stores, docs/rag.md) ---------------------------------

export interface VectorStore {
  id: string;
  name: string;
  usage_bytes: number;
  file_counts: { completed: number; failed: number; in_progress: number; total: number };
}

export interface VectorStoreFile {
  id: string;
  status: 'in_progress' | 'completed' | 'failed' | 'cancelled';
  usage_bytes: number;
  last_error: { code: string; message: string } | null;
}

export interface FileObject {
  id: string;
  filename: string;
  bytes: number;
}

export const listStores = async () =>
  (await request<{ data: VectorStore[] }>('GET', '/v1/vector_stores')).data;
export const createStore = (name: string) => request<VectorStore>('POST', '/v1/vector_stores', { name });
export const deleteStore = (id: string) =>
  request<unknown>('DELETE', `/v1/vector_stores/${encodeURIComponent(id)}`);
export const listStoreFiles = async (id: string) =>
  (await request<{ data: VectorStoreFile[] }>(
    'GET', `/v1/vector_stores/${encodeURIComponent(id)}/files`)).data;
export const addStoreFile = (id: string, fileId: string) =>
  request<VectorStoreFile>('POST', `/v1/vector_stores/${encodeURIComponent(id)}/files`, {
    file_id: fileId,
  });
export const removeStoreFile = (id: string, fileId: string) =>
  request<unknown>(
    'DELETE', `/v1/vector_stores/${encodeURIComponent(id)}/files/${encodeURIComponent(fileId)}`);
export const listFiles = async () =>
  (await request<{ data: FileObject[] }>('GET', '/v1/files')).data;
export const deleteFile = (id: string) =>
  request<unknown>('DELETE', `/v1/files/${encodeURIComponent(id)}`);

// Uploads one file for retrieval (multipart, purpose=assistants).
export async function uploadFile(file: File): Promise<FileObject> {
  const form = new FormData();
  form.append('purpose', 'assistants');
  form.append('file', file, file.name);
  const res = await fetch('/v1/files', { method: 'POST', headers: headers(false), body: form });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as FileObject;
}
