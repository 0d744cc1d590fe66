// hearth in the browser (and Node): one OpenAI-shaped chat API over three ways to run a model.
//
//   const h = await Hearth.create({ model, backend: "auto" | "webgpu" | "wasm" | "server" });
//   const reply = await h.chat.completions.create({ messages, max_tokens: 64 });
//   for await (const chunk of await h.chat.completions.create({ messages, stream: true })) ...
//   h.backendReport  // { backend, reason, tokensPerSecond: { prompt, generation },
//                    //   wasm: { build, threads, reason }, ... }
//   h.unload();
//
// "wasm", "webgpu" and "auto" run the model in this tab: in a Web Worker (worker.js) in a
// browser, in this thread in Node (no Worker, no OPFS: tests). "server" sends the requests to
// the hearth server that served the page. README.md documents the options.
import { completionFrom, chunksFrom } from "./openai_shapes.js";

const isBrowser = typeof window !== "undefined" || typeof WorkerGlobalScope !== "undefined";
const here = new URL(".", import.meta.url);

// The model running in a Web Worker; requests are serialized (one engine, one KV cache).
class WorkerBackend {
  static async create(options) {
    const backend = new WorkerBackend();
    backend.worker = new Worker(new URL("worker.js", here));
    backend.nextId = 1;
    backend.listeners = new Map();  // request id -> its message handler
    const ready = new Promise((resolve, reject) => {
      backend.worker.onmessage = (e) => {
        const msg = e.data;
        if (msg.type === "progress") options.onProgress?.(msg.progress);
        else if (msg.type === "ready") resolve(msg.report);
        else if (msg.id !== undefined && backend.listeners.has(msg.id)) backend.listeners.get(msg.id)(msg);
        else if (msg.type === "error") reject(new Error(msg.message));
      };
      backend.worker.onerror = (e) => reject(new Error(`the engine's worker failed: ${e.message}`));
    });
    const { onProgress, ...portable } = options;  // functions cannot cross to the worker
    const build = (name) => ({
      factoryUrl: new URL(`${name}.js`, options.wasmBase ?? here).href,
      wasmUrl: new URL(`${name}.wasm`, options.wasmBase ?? here).href,
    });
    // The worker picks one (threads.js): it knows whether it may share memory.
    backend.worker.postMessage({
      type: "init",
      options: portable,
      builds: { single: build("hearth_wasm"), threaded: build("hearth_wasm_mt") },
    });
    try {
      backend.report = await ready;
    } catch (e) {
      backend.worker.terminate();
      throw e;
    }
    return backend;
  }

  // generate.js's events for one request, as an async iterator; leaving it early aborts.
  async *events(request) {
    const id = this.nextId++;
    const queue = [];
    let wake = null;
    this.listeners.set(id, (msg) => {
      queue.push(msg);
      wake?.();
    });
    this.worker.postMessage({ type: "chat", id, request });
    let finished = false;
    try {
      for (;;) {
        while (!queue.length) await new Promise((resolve) => { wake = resolve; });
        wake = null;
        const msg = queue.shift();
        if (msg.type === "error") throw new Error(msg.message);
        if (msg.event.type === "done") {
          finished = true;
          this.report = msg.event.report;
        }
        yield msg.event;
        if (finished) return;
      }
    } finally {
      if (!finished) this.worker.postMessage({ type: "abort", id });
      this.listeners.delete(id);
    }
  }

  // The test hooks of runner.js, run in the worker.
  probe(kind, ...args) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.listeners.set(id, (msg) => {
        this.listeners.delete(id);
        if (msg.type === "error") reject(new Error(msg.message));
        else resolve(msg.value);
      });
      this.worker.postMessage({ type: "probe", id, kind, args });
    });
  }

  unload() {
    this.worker.postMessage({ type: "unload" });
    this.worker.terminate();
  }
}

// The model running in this thread (Node): the same Runner the worker hosts.
class InThreadBackend {
  static async create(options) {
    const { Runner } = await import("./runner.js");
    const { chooseThreads, threadEnvironment } = await import("./threads.js");
    const { createRequire } = await import("node:module");
    const { existsSync, readFileSync } = await import("node:fs");
    const path = await import("node:path");
    const { fileURLToPath } = await import("node:url");
    const dir = options.wasmDir ?? globalThis.process?.env?.HEARTH_WASM_BUILD ??
      path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../build-wasm");
    let threads = chooseThreads(options.threads, threadEnvironment());
    if (threads.threaded && !existsSync(path.join(dir, "hearth_wasm_mt.wasm"))) {
      threads = { threaded: false, threads: 1, reason: "single-threaded: the threaded build " +
                  `is missing (${path.join(dir, "hearth_wasm_mt.wasm")})` };
    }
    const name = threads.threaded ? "hearth_wasm_mt" : "hearth_wasm";
    const factory = createRequire(import.meta.url)(path.join(dir, `${name}.js`));
    const backend = new InThreadBackend();
    backend.runner = await Runner.create(options, {
      factory,
      wasmBinary: readFileSync(path.join(dir, `${name}.wasm`)),
      threads,
      onProgress: options.onProgress,
    });
    backend.report = backend.runner.report;
    return backend;
  }

  async *events(request) {
    const signal = { aborted: false };
    try {
      yield* this.runner.chat(request, signal);
    } finally {
      signal.aborted = true;
    }
  }

  async probe(kind, ...args) {
    if (kind === "teacher") return this.runner.teacherForced(...args);
    if (kind === "greedy") return this.runner.greedy(...args);
    return this.runner.tokenize(...args);
  }

  unload() {
    this.runner.unload();
  }
}

// The hearth server that served the page (or options.serverUrl): /v1/chat/completions.
class ServerBackend {
  constructor(options) {
    this.base = new URL(options.serverUrl ?? globalThis.location?.origin ?? "http://127.0.0.1:8000");
    this.model = options.modelId ?? (typeof options.model === "string" ? options.model : undefined);
    this.apiKey = options.apiKey;
    this.report = {
      backend: "server",
      reason: `asked for the server backend (${this.base.origin})`,
      tokensPerSecond: { prompt: null, generation: null },
      model: { id: this.model },
    };
  }

  async #post(body, signal) {
    const headers = { "Content-Type": "application/json" };
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    const res = await fetch(new URL("/v1/chat/completions", this.base), {
      method: "POST", headers, body: JSON.stringify({ ...body, model: body.model ?? this.model }), signal,
    });
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        message = (await res.json()).error?.message ?? message;
      } catch { /* not JSON */ }
      throw new Error(`the server refused the request: ${message}`);
    }
    return res;
  }

  #noteTimings(timings) {
    if (!timings) return;
    this.report.tokensPerSecond = {
      prompt: timings.prompt_per_second ?? null,
      generation: timings.predicted_per_second ?? null,
    };
  }

  async complete(request) {
    const body = await (await this.#post({ ...request, stream: false })).json();
    this.#noteTimings(body.timings);
    return body;
  }

  // The server's own chunks, parsed from its SSE stream.
  async *stream(request) {
    const abort = new AbortController();
    const res = await this.#post({ ...request, stream: true }, abort.signal);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event.split("\n").filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart()).join("\n");
          if (!data) continue;
          if (data === "[DONE]") return;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(`the server failed the request: ${chunk.error.message}`);
          this.#noteTimings(chunk.timings);
          yield chunk;
        }
      }
    } finally {
      abort.abort();  // a consumer that stops early closes the connection: the server cancels
    }
  }

  unload() {}
}

export class Hearth {
  // options: see README.md. model: a URL (string or URL), File/Blob or ArrayBuffer/typed array
  // for the local backends; for "server", modelId (or model as an id string).
  static async create(options = {}) {
    const backend = options.backend ?? "auto";
    const h = new Hearth();
    h.modelName = options.modelId ?? modelName(options.model);
    if (backend === "server") {
      h.impl = new ServerBackend(options);
    } else {
      if (!options.model) throw new Error("Hearth.create: `model` (a URL, File or ArrayBuffer) is required");
      let persisted = null;
      const isUrl = typeof options.model === "string" || options.model instanceof URL;
      if (isBrowser && isUrl && navigator.storage?.persist) {
        // Ask the browser to keep the OPFS cache under storage pressure (only the page may ask).
        persisted = await navigator.storage.persist().catch(() => false);
      }
      const model = options.model instanceof URL ? options.model.href : options.model;
      const local = { ...options, backend, model };
      h.impl = isBrowser && typeof Worker !== "undefined" && !options.inThread
        ? await WorkerBackend.create(local) : await InThreadBackend.create(local);
      h.impl.report.persisted = persisted;
    }
    h.queue = Promise.resolve();
    h.chat = { completions: { create: (request) => h.#create(request) } };
    return h;
  }

  get backendReport() {
    return this.impl.report;
  }

  // One request at a time for the local engines (one KV cache); a stream holds the turn until
  // it is read to the end or left.
  async #create(request) {
    if (!Array.isArray(request?.messages)) throw new Error("messages must be an array");
    const meta = {
      id: `chatcmpl-${Math.random().toString(36).slice(2, 14)}`,
      created: Math.floor(Date.now() / 1000),
      model: request.model ?? this.modelName,
      includeUsage: request.stream_options?.include_usage === true,
    };
    if (this.impl instanceof ServerBackend) {
      return request.stream ? this.impl.stream(request) : this.impl.complete(request);
    }
    const previous = this.queue;
    let release;
    this.queue = new Promise((resolve) => { release = resolve; });
    await previous;
    if (!request.stream) {
      try {
        return await completionFrom(this.impl.events(request), meta);
      } finally {
        release();
      }
    }
    const impl = this.impl;
    return (async function* () {
      try {
        yield* chunksFrom(impl.events(request), meta);
      } finally {
        release();
      }
    })();
  }

  // Test hooks (runner.js): teacher-forced logit statistics, a greedy continuation, ids.
  teacherForced(ids) { return this.impl.probe("teacher", ids); }
  greedy(promptIds, steps) { return this.impl.probe("greedy", promptIds, steps); }
  tokenize(text) { return this.impl.probe("tokenize", text); }

  unload() {
    this.impl?.unload();
    this.impl = null;
  }
}

function modelName(model) {
  if (typeof model === "string" || model instanceof URL) {
    const path = new URL(String(model), globalThis.location?.href ?? "http://x/").pathname;
    const hearthId = /\/v1\/models\/(.+)\/file$/.exec(path);
    return decodeURIComponent(hearthId ? hearthId[1] : path.split("/").pop());
  }
  if (typeof File !== "undefined" && model instanceof File) return model.name;
  return "local-model";
}
