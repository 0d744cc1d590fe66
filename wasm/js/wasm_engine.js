// A minimal engine over the wasm build's C API (wasm/hearth_wasm.cpp) with the engine
// contract of wasm/js/webgpu.js, in the calling thread. The WebGPU tests use it as the
// reference engine and as the source of the model description; the product's engine
// (hearth.js, in a Worker) is a separate module.
//
// Ownership: the engine owns its handle in `module` (an instantiated hearth_wasm module)
// until free(). Errors from the C API become thrown Errors with hearth_last_error()'s text.

export function createWasmEngine(module, ggufBytes, { nCtx = 0 } = {}) {
  return new WasmEngine(module, ggufBytes, nCtx);
}

class WasmEngine {
  constructor(m, ggufBytes, nCtx) {
    this.m = m;
    this.backend = "wasm";
    this.h = this.#withBytes(ggufBytes, (p, n) => m._hearth_load(p, n, nCtx));
    if (this.h < 0) throw this.#error("load");
    this.desc = this.describeModel();
    const d = this.desc;
    this.info = { arch: d.arch, nVocab: d.n_vocab, nCtx: d.n_ctx, bos: d.bos, eos: d.eos,
                  chatTemplate: d.chat_template };
  }

  #error(what) {
    return new Error(`${what}: ${this.m.UTF8ToString(this.m._hearth_last_error())}`);
  }

  #withBytes(bytes, fn) {
    const ptr = this.m._malloc(Math.max(bytes.length, 1));
    if (!ptr) throw new Error(`cannot allocate ${bytes.length} bytes in the wasm heap`);
    try {
      this.m.HEAPU8.set(bytes, ptr);
      return fn(ptr, bytes.length);
    } finally {
      this.m._free(ptr);
    }
  }

  // The model as hearth_model_desc describes it (hyper-parameters, tensor table).
  describeModel() {
    const ptr = this.m._hearth_model_desc(this.h);
    if (!ptr) throw this.#error("describe model");
    return JSON.parse(this.m.UTF8ToString(ptr));
  }

  // A view of the wasm heap (valid until the heap grows: copy or use it at once).
  heapBytes(ptr, n) {
    return this.m.HEAPU8.subarray(ptr, ptr + n);
  }

  get nPast() {
    return this.m._hearth_n_past(this.h);
  }

  tokenize(text, addSpecial, parseSpecial) {
    const bytes = new TextEncoder().encode(text);
    let capacity = bytes.length + 8;
    for (;;) {
      const out = this.m._malloc(capacity * 4);
      try {
        const n = this.#withBytes(bytes, (p, len) => this.m._hearth_tokenize(
          this.h, p, len, addSpecial ? 1 : 0, parseSpecial ? 1 : 0, out, capacity));
        if (n < 0) throw this.#error("tokenize");
        if (n <= capacity) return Int32Array.from(this.m.HEAP32.subarray(out >> 2, (out >> 2) + n));
        capacity = n;
      } finally {
        this.m._free(out);
      }
    }
  }

  // The bytes of one token's text (special tokens rendered), read up to the terminating NUL.
  tokenPiece(id) {
    const idPtr = this.m._malloc(4);
    try {
      this.m.HEAP32[idPtr >> 2] = id;
      const ptr = this.m._hearth_detokenize(this.h, idPtr, 1, 1);
      if (!ptr) throw this.#error("token piece");
      let end = ptr;
      while (this.m.HEAPU8[end] !== 0) ++end;
      return this.m.HEAPU8.slice(ptr, end);
    } finally {
      this.m._free(idPtr);
    }
  }

  applyTemplate(messages, addGenerationPrompt) {
    const text = (id) => (id >= 0 ? new TextDecoder().decode(this.tokenPiece(id)) : "");
    const request = { messages, add_generation_prompt: addGenerationPrompt,
                      bos_token: text(this.info.bos), eos_token: text(this.info.eos) };
    const src = new TextEncoder().encode(this.info.chatTemplate);
    const req = new TextEncoder().encode(JSON.stringify(request));
    const ptr = this.#withBytes(src, (sp, sn) => this.#withBytes(req, (rp, rn) =>
      this.m._hearth_apply_template(sp, sn, rp, rn, 0, 0, 0)));
    if (!ptr) throw this.#error("apply template");
    return this.m.UTF8ToString(ptr);
  }

  async decode(ids) {
    const list = Int32Array.from(ids);
    const ptr = this.m._malloc(Math.max(list.length, 1) * 4);
    try {
      this.m.HEAP32.set(list, ptr >> 2);
      if (this.m._hearth_decode(this.h, ptr, list.length, 0) !== 0) throw this.#error("decode");
    } finally {
      this.m._free(ptr);
    }
    const out = this.m._hearth_logits(this.h, -1);
    if (!out) throw this.#error("logits");
    return Float32Array.from(this.m.HEAPF32.subarray(out >> 2, (out >> 2) + this.info.nVocab));
  }

  rewind(nPast) {
    if (this.m._hearth_rewind(this.h, nPast) < 0) throw this.#error("rewind");
  }

  free() {
    this.m._hearth_free(this.h);
    this.h = -1;
  }
}
