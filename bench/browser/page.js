// The benchmark page's side (bench.mjs drives it through puppeteer): both engines, each in its
// own Web Worker, behind the same four calls, and the page-load measurement.
//
// window.bench.open(engine, modelUrl, { nCtx, threads }) -> info
// window.bench.pp(engine, text) -> { ms, n }          prompt: one batch into an empty context
// window.bench.tg(engine, text, n) -> { ms, n, text } generation: n greedy tokens after `text`
// window.bench.tokenize(text) -> ids                 hearth's tokenizer (BOS rule, specials)
// window.bench.firstToken(engine, model, threads) -> { ms, ... }  load + first streamed token
import { Wllama } from "/wllama/index.js";

const engines = {};

// --- hearth-wasm: wasm/js/engine.js's WasmEngine in hearth_worker.js --------------------------
class HearthClient {
  constructor() {
    this.worker = new Worker("/bench/hearth_worker.js");
    this.next = 1;
    this.waiting = new Map();
    this.worker.onmessage = (e) => {
      const { id, value, error } = e.data;
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      if (error) w.reject(new Error(error));
      else w.resolve(value);
    };
  }

  call(op, args = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...args });
    });
  }

  // Above one thread, the threaded build (hearth_wasm_mt), as the package picks it on a
  // cross-origin isolated page.
  async open(url, { nCtx, threads }) {
    const build = threads > 1 ? "hearth_wasm_mt" : "hearth_wasm";
    return this.call("load", {
      url, nCtx, threads,
      wasmUrl: `/hearth/${build}.wasm`,
      factoryUrl: new URL(`/hearth/${build}.js`, location.href).href,
      engineUrl: "/hearth/engine.js",
    });
  }

  async pp(text) { return this.call("pp", { ids: await this.tokenize(text) }); }
  async tg(text, n) { return this.call("tg", { ids: await this.tokenize(text), n }); }
  tokenize(text) { return this.call("tokenize", { text }); }
  close() { this.worker.terminate(); }
}

// --- wllama: its own worker (llama.cpp's server loop compiled to wasm) ------------------------
// Timings are llama-server's own: prompt_ms (the prompt's decode) and predicted_ms (from the
// prompt's logits to the last token), measured inside its worker. cache_prompt: false makes
// every request decode its prompt from an empty context; ignore_eos keeps n tokens coming.
class WllamaClient {
  async open(url, { nCtx, threads }) {
    this.w = new Wllama({ default: "/wllama/wasm/wllama.wasm" },
                        { suppressNativeLog, logger: quietLogger });
    const blob = await (await fetch(url)).blob();
    // n_gpu_layers 0: the CPU (wasm SIMD) path, as hearth-wasm; the page has no WebGPU anyway.
    await this.w.loadModel([blob], { n_ctx: nCtx, n_batch: 512, n_ubatch: 512, n_threads: threads,
                                     n_gpu_layers: 0, n_parallel: 1 });
    return { nVocab: this.w.getLoadedContextInfo().n_vocab, threads: this.w.getNumThreads(),
             multithread: this.w.isMultithread() };
  }

  // `prompt` is text (this wllama takes no token ids); the caller checks prompt_n against
  // hearth's token count of the same text, so both decode the same number of tokens.
  async complete(text, n) {
    return this.w.createCompletion({ prompt: text, max_tokens: n, temperature: 0, ignore_eos: true,
                                     cache_prompt: false, stream: false });
  }

  async pp(text) {
    const r = await this.complete(text, 1);
    return { ms: r.timings.prompt_ms, n: r.timings.prompt_n };
  }

  async tg(text, n) {
    const r = await this.complete(text, n);
    return { ms: r.timings.predicted_ms, n: r.timings.predicted_n, text: r.choices[0].text,
             promptN: r.timings.prompt_n };
  }

  close() { return this.w.exit(); }
}

const quietLogger = new URLSearchParams(location.search).has("debug") ? console
  : { debug() {}, log() {}, warn: console.warn, error: console.error };
const suppressNativeLog = !new URLSearchParams(location.search).has("debug");

window.bench = {
  async open(engine, url, options) {
    const client = engine === "hearth" ? new HearthClient() : new WllamaClient();
    engines[engine] = client;
    return client.open(url, options);
  },
  pp: (engine, text) => engines[engine].pp(text),
  tg: (engine, text, n) => engines[engine].tg(text, n),
  tokenize: (text) => engines.hearth.tokenize(text),
  heap: () => engines.hearth.call("heap"),
  async close(engine) {
    await engines[engine]?.close();
    delete engines[engine];
  },

  // Page load to first token: called right after navigation; `performance.now()` counts from
  // the navigation's start. hearth: the JS package (Hearth.create on a hearth model URL, OPFS
  // cache, the package's worker) and a streamed chat; wllama: loadModelFromUrl (its own OPFS
  // cache) and a streamed chat completion. Both greedy, 4 tokens at most.
  async firstToken(engine, model, threads) {
    const messages = [{ role: "user", content: "Tell me a story." }];
    const out = { engine };
    if (engine === "hearth") {
      const { Hearth } = await import("/hearth/hearth.js");
      const h = await Hearth.create({ model: `/v1/models/${model}/file`, backend: "wasm",
                                      nCtx: 512 });
      out.loadedMs = performance.now();
      out.cache = h.backendReport.download?.cache;
      const stream = await h.chat.completions.create({ messages, stream: true, max_tokens: 4,
                                                       temperature: 0 });
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content && out.firstTokenMs === undefined) {
          out.firstTokenMs = performance.now();
        }
      }
      window.hearthHandle = h;
    } else {
      const w = new Wllama({ default: "/wllama/wasm/wllama.wasm" },
                           { suppressNativeLog, logger: quietLogger });
      const cached = (await w.cacheManager.list()).length > 0;
      await w.loadModelFromUrl(`${location.origin}/models/${model}.gguf`,
                               { n_ctx: 512, n_threads: threads, n_gpu_layers: 0, n_parallel: 1 });
      out.loadedMs = performance.now();
      out.cache = cached ? "hit" : "miss";
      const stream = await w.createChatCompletion({ messages, stream: true, max_tokens: 4,
                                                    temperature: 0 });
      for await (const chunk of stream) {
        if (chunk.choices?.[0]?.delta?.content && out.firstTokenMs === undefined) {
          out.firstTokenMs = performance.now();
        }
      }
      window.wllamaHandle = w;
    }
    return out;
  },

  // The tab's memory as the page can see it (cross-origin isolated, so the API exists):
  // bytes of the page and its workers.
  async measureMemory() {
    if (!performance.measureUserAgentSpecificMemory) return null;
    const m = await performance.measureUserAgentSpecificMemory();
    return { bytes: m.bytes, breakdown: m.breakdown.filter((b) => b.bytes > 0)
      .map((b) => ({ bytes: b.bytes, types: b.types, scope: b.attribution.map((a) => a.scope) })) };
  },
};
