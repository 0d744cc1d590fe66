// A thin JavaScript wrapper over the wasm build's C API (wasm/hearth_wasm.cpp), for the Node
// tests and benchmark. It loads build-wasm/hearth_wasm.{js,wasm} (or, for more than one
// thread, the threaded build hearth_wasm_mt.{js,wasm}) itself (wasmBinary), so emscripten's
// loader never tries fetch() on a file path.
//
// Each Engine owns one wasm module instance; its handles are freed with free(), and close()
// ends the threaded build's pthread Workers (a Node process waits for them otherwise). Errors
// from the C API become thrown Errors carrying hearth_last_error()'s message.
//
// Pointers: the heap reaches 4 GiB, so every pointer the module returns goes through ptrOf
// (an address above 2 GiB arrives as a negative i32) and heap indices use `>>> 2`, as in
// wasm/js/engine.js.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const buildDir = process.env.HEARTH_WASM_BUILD ?? path.resolve(here, "../../build-wasm");
export const fixturesDir =
  process.env.HEARTH_FIXTURES ?? path.resolve(here, "../../../shared/fixtures");
// HEARTH_WASM_THREADS=N runs the tests that take the default on the threaded build, N threads
// per session (make test-wasm runs the references both ways).
export const defaultThreads = Number(process.env.HEARTH_WASM_THREADS ?? 1);

export const ptrOf = (p) => p >>> 0;

// `kernels`: a kernel table to start from (HEARTH_KERNELS inside the module, e.g. "scalar").
// `threads`: sessions' threads (load's default); more than 1, or `threaded`, picks the
// threaded build, whose pthread pool is sized for that many.
export async function createEngine({ kernels, threads = defaultThreads,
                                     threaded = threads > 1 } = {}) {
  const require = createRequire(import.meta.url);
  const name = threaded ? "hearth_wasm_mt" : "hearth_wasm";
  const factory = require(path.join(buildDir, `${name}.js`));
  const module = await factory({
    wasmBinary: readFileSync(path.join(buildDir, `${name}.wasm`)),
    hearthPoolSize: threads,
    preRun: [(m) => {
      if (kernels) m.ENV.HEARTH_KERNELS = kernels;
    }],
    print: () => {},
    printErr: (line) => process.stderr.write(`[wasm] ${line}\n`),
  });
  return new Engine(module, { build: name, threads });
}

export class Engine {
  constructor(module, { build = "hearth_wasm", threads = 1 } = {}) {
    this.m = module;
    this.build = build;
    this.threads = threads;
  }

  // The heap views, current: in the threaded build another thread may have grown the memory.
  get heap() {
    this.m.hearthSyncHeap?.();
    return this.m;
  }

  // Ends the threaded build's pthread Workers (after every handle is freed).
  close() {
    this.m.hearthTerminateThreads?.();
  }

  #error(what) {
    return new Error(`${what}: ${this.m.UTF8ToString(ptrOf(this.m._hearth_last_error()))}`);
  }

  // Copies bytes into the wasm heap for one call.
  #withBytes(bytes, fn) {
    const ptr = ptrOf(this.m._malloc(Math.max(bytes.length, 1)));
    if (!ptr) throw new Error(`cannot allocate ${bytes.length} bytes in the wasm heap`);
    try {
      this.heap.HEAPU8.set(bytes, ptr);
      return fn(ptr, bytes.length);
    } finally {
      this.m._free(ptr);
    }
  }

  #withIds(ids, fn) {
    const ptr = ptrOf(this.m._malloc(Math.max(ids.length, 1) * 4));
    if (!ptr) throw new Error(`cannot allocate ${ids.length} ids in the wasm heap`);
    try {
      this.heap.HEAP32.set(Int32Array.from(ids), ptr >>> 2);
      return fn(ptr, ids.length);
    } finally {
      this.m._free(ptr);
    }
  }

  load(ggufBytes, { nCtx = 0, threads = this.threads } = {}) {
    const h = this.#withBytes(ggufBytes, (p, n) => this.m._hearth_load(p, n, nCtx, threads));
    if (h < 0) throw this.#error("load");
    return h;
  }

  loadTokenizer(ggufBytes) {
    const h = this.#withBytes(ggufBytes, (p, n) => this.m._hearth_load_tokenizer(p, n));
    if (h < 0) throw this.#error("load tokenizer");
    return h;
  }

  free(h) {
    this.m._hearth_free(h);
  }

  nThreads(h) {
    return this.m._hearth_n_threads(h);
  }

  nVocab(h) {
    return this.m._hearth_n_vocab(h);
  }

  tokenize(h, text, { addSpecial = true, parseSpecial = true } = {}) {
    const bytes = new TextEncoder().encode(text);
    let capacity = bytes.length + 8;
    for (;;) {
      const out = ptrOf(this.m._malloc(capacity * 4));
      try {
        const n = this.#withBytes(bytes, (p, len) =>
          this.m._hearth_tokenize(h, p, len, addSpecial ? 1 : 0, parseSpecial ? 1 : 0, out,
                                  capacity));
        if (n < 0) throw this.#error("tokenize");
        if (n <= capacity) {
          return Array.from(this.heap.HEAP32.subarray(out >>> 2, (out >>> 2) + n));
        }
        capacity = n;
      } finally {
        this.m._free(out);
      }
    }
  }

  detokenize(h, ids, { renderSpecial = false } = {}) {
    const ptr = ptrOf(this.#withIds(ids, (p, n) =>
      this.m._hearth_detokenize(h, p, n, renderSpecial ? 1 : 0)));
    if (!ptr) throw this.#error("detokenize");
    return this.m.UTF8ToString(ptr);
  }

  rewind(h, nPast = 0) {
    if (this.m._hearth_rewind(h, nPast) < 0) throw this.#error("rewind");
  }

  decode(h, ids, { allLogits = false } = {}) {
    const rc = this.#withIds(ids, (p, n) => this.m._hearth_decode(h, p, n, allLogits ? 1 : 0));
    if (rc !== 0) throw this.#error("decode");
  }

  // A copy of the logits after the i-th token of the last decode (-1: its last).
  logits(h, i = -1) {
    const ptr = ptrOf(this.m._hearth_logits(h, i));
    if (!ptr) throw this.#error("logits");
    const n = this.nVocab(h);
    return Float32Array.from(this.heap.HEAPF32.subarray(ptr >>> 2, (ptr >>> 2) + n));
  }

  // A chat template rendered for `request` ({messages, tools, add_generation_prompt, bos_token,
  // eos_token, template_kwargs}); `date` [y, m, d] pins strftime_now().
  applyTemplate(source, request, { date } = {}) {
    const src = new TextEncoder().encode(source);
    const req = new TextEncoder().encode(JSON.stringify(request));
    const [y, m, d] = date ?? [0, 0, 0];
    const ptr = ptrOf(this.#withBytes(src, (sp, sn) =>
      this.#withBytes(req, (rp, rn) => this.m._hearth_apply_template(sp, sn, rp, rn, y, m, d))));
    if (!ptr) throw this.#error("apply template");
    return this.m.UTF8ToString(ptr);
  }

  generate(h, promptIds, { maxTokens = 32, temperature = 0, topK = 40, topP = 0.95, minP = 0.05,
                           seed = 1 } = {}) {
    const out = ptrOf(this.m._malloc(Math.max(maxTokens, 1) * 4));
    if (!out) throw new Error(`cannot allocate ${maxTokens} ids in the wasm heap`);
    try {
      const n = this.#withIds(promptIds, (p, len) =>
        this.m._hearth_generate(h, p, len, maxTokens, temperature, topK, topP, minP, seed, out));
      if (n < 0) throw this.#error("generate");
      return Array.from(this.heap.HEAP32.subarray(out >>> 2, (out >>> 2) + n));
    } finally {
      this.m._free(out);
    }
  }
}
