// The WebAssembly engine: hearth's engine compiled by emscripten (wasm/hearth_wasm.cpp's C
// API) behind the engine interface of ENGINE.md. Used in the Web Worker (browser) and in the
// main thread (Node tests).
//
// One WasmEngine owns one model handle in one module instance. The model's GGUF bytes are
// written chunk by chunk straight into the buffer the Model keeps (see loadWasmEngine), so
// neither JavaScript nor the heap ever holds a second whole copy.

const encoder = new TextEncoder();

// The heap grows to 4 GiB (wasm/CMakeLists.txt), and a wasm32 pointer reaches JavaScript as a
// signed i32: an address at or above 2 GiB arrives negative. `ptrOf` reads every pointer the
// module returns as the unsigned number it is, and typed-array indices use `>>> 2`, never
// `>> 2` (which turns such an address negative again). Sizes and handles need nothing: a size
// passed as a JS number up to 4 GiB - 1 reaches a size_t parameter with the same bits.
const ptrOf = (p) => p >>> 0;

// Starts a module from emscripten's factory (createHearthWasm) with the .wasm bytes given, so
// the loader never fetches on its own (in Node a fetch of a file path fails; in the browser
// the caller already fetched it). For the threaded build (hearth_wasm_mt.js): `threads`, the
// most threads a session of this module will use, sizes its pthread pool (one Worker per
// thread beyond the caller's, plus one for the engine's short-lived helper threads while a
// model loads), and `factoryUrl` is where its pthread Workers load the factory and
// hearth_wasm_mt.worker.js from (a classic worker that ran importScripts has no script URL of
// its own to give them; Node finds both beside the factory by itself).
export async function startModule(factory, wasmBinary, { kernels, threads = 1, factoryUrl } = {}) {
  const options = {
    wasmBinary,
    hearthPoolSize: threads,
    preRun: [(m) => {
      if (kernels) m.ENV.HEARTH_KERNELS = kernels;
    }],
    print: () => {},
    printErr: (line) => console.warn(`[hearth wasm] ${line}`),
  };
  if (factoryUrl) {
    options.mainScriptUrlOrBlob = factoryUrl;
    options.locateFile = (name) => new URL(name, factoryUrl).href;
  }
  return factory(options);
}

// The module's heap views, current: in the threaded build another thread may have grown the
// memory since this thread last looked (wasm/threads_post.js).
export function heapOf(module) {
  module.hearthSyncHeap?.();
  return module;
}

// Loads a model whose `size` bytes `fill(write)` produces: `fill` calls `write(chunk, offset)`
// for every chunk (in any order) and resolves when all are written. The bytes go straight
// into the buffer the Model will own (hearth_model_buffer), so the file is in memory once.
// `threads`: the session's (more than 1 only in the threaded build, within its pool).
// A std::vector in wasm32 holds at most 2^31 - 1 bytes (its difference_type is 32 bits), and
// the Model keeps the file in one; the KV cache and buffers take the rest of the 4 GiB heap.
const MAX_MODEL_FILE = 2 ** 31 - 1;

export async function loadWasmEngine(module, size, fill, { nCtx = 0, threads = 1 } = {}) {
  if (!(size > 0)) throw new Error("the model file is empty");
  if (size > MAX_MODEL_FILE) {
    throw new Error(`the model file is ${(size / 2 ** 30).toFixed(2)} GiB; the wasm build ` +
                    "takes a file of at most 2 GiB, in a heap of at most 4 GiB (docs/wasm.md)");
  }
  const ptr = ptrOf(module._hearth_model_buffer(size));
  if (!ptr) {
    throw new Error(`cannot allocate ${(size / 2 ** 20).toFixed(0)} MiB in the wasm heap ` +
                    "(the model is too big for this tab's memory)");
  }
  try {
    // The views are re-read per chunk: a heap growth replaces the buffer.
    await fill((chunk, offset) => heapOf(module).HEAPU8.set(chunk, ptr + offset));
  } catch (e) {
    module._hearth_model_buffer(0);  // drop the half-filled buffer
    throw e;
  }
  const handle = module._hearth_load_buffer(nCtx, threads);
  if (handle < 0) {
    throw new Error(`load: ${module.UTF8ToString(ptrOf(module._hearth_last_error()))}`);
  }
  return new WasmEngine(module, handle);
}

export class WasmEngine {
  constructor(module, handle) {
    this.m = module;
    this.h = handle;
    const infoPtr = ptrOf(this.m._hearth_model_info(handle));
    if (!infoPtr) throw this.#error("model info");
    this.info = JSON.parse(this.m.UTF8ToString(infoPtr));
    this.backend = "wasm";
    this.threads = this.m._hearth_n_threads(handle);
  }

  // The heap views, current (heapOf).
  get #heap() {
    return heapOf(this.m);
  }

  #error(what) {
    return new Error(`${what}: ${this.m.UTF8ToString(ptrOf(this.m._hearth_last_error()))}`);
  }

  // Runs fn(ptr) with `bytes` copied into a temporary heap buffer.
  #withBytes(bytes, fn) {
    const ptr = ptrOf(this.m._malloc(Math.max(bytes.length, 1)));
    if (!ptr) throw new Error(`cannot allocate ${bytes.length} bytes in the wasm heap`);
    try {
      this.#heap.HEAPU8.set(bytes, ptr);
      return fn(ptr, bytes.length);
    } finally {
      this.m._free(ptr);
    }
  }

  #withIds(ids, fn) {
    const ptr = ptrOf(this.m._malloc(Math.max(ids.length, 1) * 4));
    if (!ptr) throw new Error(`cannot allocate ${ids.length} ids in the wasm heap`);
    try {
      this.#heap.HEAP32.set(ids, ptr >>> 2);
      return fn(ptr, ids.length);
    } finally {
      this.m._free(ptr);
    }
  }

  tokenize(text, addSpecial, parseSpecial) {
    const bytes = encoder.encode(text);
    return this.#withBytes(bytes, (textPtr, textLen) => {
      let capacity = textLen + 8;  // a token covers at least one byte, plus BOS/EOS
      for (;;) {
        const out = ptrOf(this.m._malloc(capacity * 4));
        try {
          const n = this.m._hearth_tokenize(this.h, textPtr, textLen, addSpecial ? 1 : 0,
                                            parseSpecial ? 1 : 0, out, capacity);
          if (n < 0) throw this.#error("tokenize");
          if (n <= capacity) return this.#heap.HEAP32.slice(out >>> 2, (out >>> 2) + n);
          capacity = n;
        } finally {
          this.m._free(out);
        }
      }
    });
  }

  tokenPiece(id) {
    let capacity = 64;
    for (;;) {
      const out = ptrOf(this.m._malloc(capacity));
      try {
        const n = this.m._hearth_token_piece(this.h, id, out, capacity);
        if (n < 0) throw this.#error("token piece");
        if (n <= capacity) return this.#heap.HEAPU8.slice(out, out + n);
        capacity = n;
      } finally {
        this.m._free(out);
      }
    }
  }

  // The model's chat template for `messages` ([{role, content}, ...]).
  applyTemplate(messages, addGenerationPrompt) {
    if (typeof this.info.chatTemplate !== "string") {
      throw new Error(`the model has no usable chat template: ${this.info.chatTemplateError}`);
    }
    const now = new Date();
    const request = {
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.info.bosToken ?? "",
      eos_token: this.info.eosToken ?? "",
    };
    const src = encoder.encode(this.info.chatTemplate);
    const req = encoder.encode(JSON.stringify(request));
    const ptr = ptrOf(this.#withBytes(src, (sp, sn) => this.#withBytes(req, (rp, rn) =>
      this.m._hearth_apply_template(sp, sn, rp, rn, now.getFullYear(), now.getMonth() + 1,
                                    now.getDate()))));
    if (!ptr) throw this.#error("chat template");
    return this.m.UTF8ToString(ptr);
  }

  async decode(ids) {
    const rc = this.#withIds(ids, (p, n) => this.m._hearth_decode(this.h, p, n, 0));
    if (rc !== 0) throw this.#error("decode");
    const ptr = ptrOf(this.m._hearth_logits(this.h, -1));
    if (!ptr) throw this.#error("logits");
    return this.#heap.HEAPF32.slice(ptr >>> 2, (ptr >>> 2) + this.info.nVocab);
  }

  get nPast() {
    return this.m._hearth_n_past(this.h);
  }

  rewind(nPast) {
    if (this.m._hearth_rewind(this.h, nPast) < 0) throw this.#error("rewind");
  }

  free() {
    if (this.h >= 0) this.m._hearth_free(this.h);
    this.h = -1;
  }
}
