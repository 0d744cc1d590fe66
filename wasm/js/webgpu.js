// hearth's WebGPU path: the llama-family forward pass (llama, qwen2, qwen3, phi3, gemma3) run by WGSL
// compute shaders with the weights resident on the GPU, orchestrated here in JavaScript. The wasm
// engine stays the source of truth for everything else (GGUF parsing, hyper-parameters,
// tokenizer, chat template) and is the reference the smoke test compares against. Design and
// limits: docs/webgpu.md. Nothing here uses emscripten's WebGPU bindings (Debian's 3.1.6
// predates today's API); it talks to navigator.gpu directly.
//
// The engine contract (wasm/js/ENGINE.md), which both the wasm engine and this one implement:
//
//   engine.info -> { arch, nVocab, nCtx, bos, eos, chatTemplate }
//   engine.tokenize(text: string, addSpecial: boolean, parseSpecial: boolean) -> Int32Array
//   engine.tokenPiece(id) -> Uint8Array   // bytes of one token
//   engine.applyTemplate(messages, addGenerationPrompt: boolean) -> string
//   async engine.decode(ids: Int32Array) -> Float32Array   // logits of the LAST token
//                                                          // (n_vocab floats), appends to the KV cache
//   engine.nPast -> number ; engine.rewind(nPast)
//   engine.free()
//
// What createWebGpuEngine needs beyond that contract from the wasm engine it is given (and
// therefore that both live in the same thread, e.g. the Worker that owns the wasm module): the
// fields of engine.js's WasmEngine, wasmEngine.m (the hearth_wasm module, for
// hearth_model_desc and the heap) and wasmEngine.h (the model's handle); see modelAccess
// below. The weights are copied from the wasm heap to GPU buffers once, as the GGUF stores
// them. `info` is the wasm engine's, passed through.
//
// Ownership: the GPU engine owns its device buffers until free(); it borrows wasmEngine
// (which must outlive it) for tokenization and templates. Not thread-safe: one decode at a
// time (decode is async; callers await it before the next call).
import { ADD_NORM, ATTENTION, HEAD_PREP, SPLIT_QKV, SWIGLU, WEIGHT_TYPES, embedSource, groupSize,
         matmulSource, packParams, threadsPerRow } from "./webgpu_kernels.js";

const PARAM_SLOT = 256;  // bytes per dispatch's uniform slot (minUniformBufferOffsetAlignment)
const PROMPT_TOK = 8;    // tokens per workgroup of the matrix-matrix kernel

// Whether this page (or worker) can get a WebGPU device, and which adapter it would be.
export async function webGpuAvailable() {
  if (typeof navigator === "undefined" || !navigator.gpu) {
    return { ok: false, reason: "no WebGPU in this browser (navigator.gpu is undefined)",
             adapterInfo: null };
  }
  let adapter;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (e) {
    return { ok: false, reason: `requestAdapter failed: ${e.message ?? e}`, adapterInfo: null };
  }
  if (!adapter) return { ok: false, reason: "no WebGPU adapter (requestAdapter returned null)",
                         adapterInfo: null };
  return { ok: true, reason: "", adapterInfo: describeAdapter(adapter) };
}

function describeAdapter(adapter) {
  const info = adapter.info ?? {};
  const fallback = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  return { vendor: info.vendor ?? "", architecture: info.architecture ?? "",
           device: info.device ?? "", description: info.description ?? "",
           shaderF16: adapter.features.has("shader-f16"), isFallbackAdapter: fallback,
           // A CPU rasterizer (SwiftShader): correct, and far slower than the wasm engine.
           software: fallback || /swiftshader/i.test(`${info.architecture} ${info.description}`) };
}

// Why the GPU path cannot run this model (null when it can). The checks mirror the flags of
// the engine's architecture table that llama_family.cpp branches on; a model that needs any
// variation this file does not implement is refused rather than computed differently.
export function unsupportedReason(desc) {
  if (desc.family !== "llama") return `arch ${desc.arch}: not a llama-family decoder`;
  const refuse = [
    [desc.nope_period > 0, "layers without RoPE"],
    [desc.n_expert > 0, "mixture of experts"], [desc.rope_scaling === "yarn", "YaRN RoPE"],
    [desc.n_head % desc.n_head_kv !== 0, "n_head not a multiple of n_head_kv"],
    [desc.head_dim > 1024, "head_dim above 1024"],
  ];
  for (const [bad, what] of refuse) if (bad) return `arch ${desc.arch}: ${what} (not implemented on WebGPU)`;
  for (const t of desc.tensors) {
    if (/attn_(output|qkv)\.bias$/.test(t.name)) return `arch ${desc.arch}: tensor ${t.name} (not implemented on WebGPU)`;
    if (t.dims.length !== 2) continue;
    if (!WEIGHT_TYPES[t.type]) return `tensor ${t.name}: type ${t.type} has no WebGPU kernel`;
    const group = groupSize(t.type);
    if (t.dims[0] % group !== 0) return `tensor ${t.name}: row length ${t.dims[0]} is not a multiple of ${group}`;
  }
  return null;
}

// Reads a small vector tensor (norm weights, biases) as F32.
function readVector(access, t) {
  const bytes = access.bytes(t.ptr, t.bytes);
  if (t.type === "F32") {
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + t.bytes));
  }
  if (t.type === "F16") {
    const out = new Float32Array(t.bytes / 2);
    const view = new DataView(bytes.buffer, bytes.byteOffset, t.bytes);
    for (let i = 0; i < out.length; ++i) out[i] = halfToFloat(view.getUint16(2 * i, true));
    return out;
  }
  throw new Error(`tensor ${t.name}: type ${t.type} for a vector is not supported on WebGPU`);
}

function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 31;
  const frac = h & 1023;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// Binding kinds of each kernel after its uniform (binding 0), in binding order.
const BINDINGS = {
  matmul: ["read", "read", "rw"], embed: ["read", "read", "rw"],
  add_norm: ["rw", "read", "read", "rw"], head_prep: ["rw", "read", "read", "read"],
  attention: ["read", "read", "read", "rw", "rw"], swiglu: ["read", "rw"],
  split_qkv: ["read", "rw", "rw", "rw"],
};

// The device-side pieces of one model: buffers (all destroyed by the engine's free()),
// pipelines shared by every dispatch of the same kernel and shape, explicit bind group layouts
// (so the matrix-vector and matrix-matrix variants of a kernel share bind groups), and the
// step plan: one entry per dispatch, with a uniform slot of its own.
class GpuModel {
  constructor(device, desc, options) {
    this.device = device;
    this.desc = desc;
    this.maxBatch = options.maxBatch ?? 32;
    this.perturb = options.perturbMatmul ?? 0;
    this.layouts = {};
    this.pipelines = new Map();
    this.buffers = [];
    this.ops = [];
  }

  buffer(size, usage, label) {
    const b = this.device.createBuffer({ size: Math.max(16, Math.ceil(size / 4) * 4), usage, label });
    this.buffers.push(b);
    return b;
  }

  storage(size, label) {
    return this.buffer(size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, label);
  }

  upload(bytes, label) {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes.byteLength > limit) {
      throw new Error(`tensor ${label}: ${bytes.byteLength} bytes exceed this adapter's largest ` +
                      `storage binding (${limit} bytes)`);
    }
    const b = this.storage(bytes.byteLength, label);
    if (bytes.byteLength % 4 === 0) {
      this.device.queue.writeBuffer(b, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } else {  // writeBuffer needs a multiple of 4 bytes: pad a copy of the tail
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(b, 0, padded);
    }
    return b;
  }

  layout(kernel) {
    if (!this.layouts[kernel]) {
      const entries = [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } }];
      BINDINGS[kernel].forEach((kind, i) => entries.push({
        binding: i + 1, visibility: GPUShaderStage.COMPUTE,
        buffer: { type: kind === "rw" ? "storage" : "read-only-storage" } }));
      const bgl = this.device.createBindGroupLayout({ entries, label: kernel });
      this.layouts[kernel] = { bgl, pl: this.device.createPipelineLayout({ bindGroupLayouts: [bgl] }) };
    }
    return this.layouts[kernel];
  }

  async pipeline(kernel, key, source) {
    const id = `${kernel}/${key}`;
    if (!this.pipelines.has(id)) {
      const module = this.device.createShaderModule({ code: source, label: id });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === "error");
      if (errors.length) {
        throw new Error(`WGSL ${id}: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ")}`);
      }
      this.pipelines.set(id, await this.device.createComputePipelineAsync({
        layout: this.layout(kernel).pl, compute: { module, entryPoint: "main" }, label: id }));
    }
    return this.pipelines.get(id);
  }

  // One dispatch of the step plan: `params(n, pos0)` and `grid(n)` are evaluated per step.
  addOp(kernel, pipelineKeys, resources, params, grid) {
    const slot = this.ops.length;
    this.ops.push({ kernel, pipelineKeys, resources, params, grid, slot });
  }
}

// One matrix product on the GPU, outside any model: `weightBytes` (rows x cols of `type`, as
// GGUF stores them) times nTokens rows of `x` (F32, cols each). Returns Y (nTokens x rows).
// For the kernel tests: the same shaders and dispatch shape as the engine's (the
// matrix-vector kernel for one token, the matrix-matrix one for more).
export async function matmulOnGpu(type, weightBytes, rows, cols, x, nTokens) {
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter.requestDevice();
  try {
    const g = new GpuModel(device, {}, {});
    const info = WEIGHT_TYPES[type];
    const w = g.upload(weightBytes, "w");
    const xb = g.upload(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), "x");
    const y = g.storage(nTokens * rows * 4, "y");
    const read = g.buffer(nTokens * rows * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, "read");
    const params = g.buffer(PARAM_SLOT, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, "params");
    const bytes = new ArrayBuffer(PARAM_SLOT);
    const threads = threadsPerRow(cols);
    const workgroups = Math.ceil(rows / (64 / threads));
    const gridX = Math.min(workgroups, 65535);
    packParams("matmul", { rows, cols, n_tokens: nTokens, row_bytes: (cols / info.blockSize) * info.typeSize,
                           grid_x: gridX, x_offset: 0, y_offset: 0, perturb: 0 }, new DataView(bytes), 0);
    device.queue.writeBuffer(params, 0, bytes);
    const tok = nTokens === 1 ? 1 : PROMPT_TOK;
    const pipeline = await g.pipeline("matmul", `${type}/${threads}/${tok}`, matmulSource(type, tok, threads));
    const bindGroup = device.createBindGroup({ layout: g.layout("matmul").bgl, entries: [
      { binding: 0, resource: { buffer: params } }, { binding: 1, resource: { buffer: w } },
      { binding: 2, resource: { buffer: xb } }, { binding: 3, resource: { buffer: y } }] });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(gridX, Math.ceil(workgroups / gridX), Math.ceil(nTokens / tok));
    pass.end();
    encoder.copyBufferToBuffer(y, 0, read, 0, nTokens * rows * 4);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    return new Float32Array(read.getMappedRange().slice(0));
  } finally {
    device.destroy();
  }
}

// The model description and heap bytes of `wasmEngine` (see the header).
function modelAccess(wasmEngine) {
  const { m, h } = wasmEngine;
  if (!m || typeof m._hearth_model_desc !== "function" || !Number.isInteger(h) || h < 0) {
    throw new Error("the wasm engine gives no access to its model's tensors (engine.js's " +
                    "WasmEngine: a hearth_wasm module `m` and a loaded model's handle `h`)");
  }
  return {
    describe: () => {
      // `>>> 0`: the heap reaches 4 GiB, and an address above 2 GiB comes back as a negative
      // i32 (engine.js's ptrOf). The tensors' `ptr` come as JSON numbers of a uintptr_t,
      // already unsigned.
      const ptr = m._hearth_model_desc(h) >>> 0;
      if (!ptr) {
        throw new Error(`describe model: ${m.UTF8ToString(m._hearth_last_error() >>> 0)}`);
      }
      return JSON.parse(m.UTF8ToString(ptr));
    },
    bytes: (ptr, n) => m.HEAPU8.subarray(ptr, ptr + n),  // HEAPU8 re-read: the heap may grow
  };
}

// Builds the GPU engine for the model loaded in `wasmEngine`. Throws an Error saying why when
// there is no adapter, the model's architecture or a tensor's type is not supported, or a
// shader fails to compile, or the adapter is a software rasterizer (SwiftShader: correct but
// 6-120x slower than the wasm engine, docs/webgpu.md) and options.allowSoftwareAdapter is not
// set. Other options: maxBatch (tokens per forward pass, default 32), perturbMatmul (adds this
// to every third output of every matrix product: a deliberate corruption, for testing that
// the smoke test catches a wrong kernel).
export async function createWebGpuEngine(wasmEngine, options = {}) {
  const available = await webGpuAvailable();
  if (!available.ok) throw new Error(available.reason);
  const a = available.adapterInfo;
  if (a.software && !options.allowSoftwareAdapter) {
    throw new Error(`the adapter (${a.vendor} ${a.architecture}) is a software rasterizer, ` +
                    "slower than wasm (allowSoftwareAdapter: true uses it anyway)");
  }
  const access = modelAccess(wasmEngine);
  const desc = access.describe();
  const refused = unsupportedReason(desc);
  if (refused) throw new Error(refused);
  const adapter = await navigator.gpu.requestAdapter();
  // Ask for the adapter's own limits: a real model's embedding can exceed the default 128 MiB
  // storage binding.
  const device = await adapter.requestDevice({ requiredLimits: {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize } });
  const engine = new WebGpuEngine(wasmEngine, access, device, desc, describeAdapter(adapter), options);
  // Allocation failures (the model does not fit the GPU's memory) and validation errors
  // surface as error scopes, not exceptions: collect them to fail with their message.
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  try {
    await engine.build();
    const invalid = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (oom) throw new Error(`WebGPU out of memory while uploading the model: ${oom.message}`);
    if (invalid) throw new Error(`WebGPU validation while uploading the model: ${invalid.message}`);
  } catch (e) {
    engine.free();
    throw e;
  }
  return engine;
}

// The engine of the contract above. build() uploads the weights and records the step plan
// once; each decode batch then writes ids, RoPE angles and parameters, encodes the whole plan
// in one compute pass and reads back the last token's logits.
class WebGpuEngine {
  constructor(wasmEngine, access, device, desc, adapterInfo, options) {
    this.wasm = wasmEngine;
    this.access = access;
    this.device = device;
    this.desc = desc;
    this.adapterInfo = adapterInfo;
    this.backend = "webgpu";
    this.g = new GpuModel(device, desc, options);
    this.nPast = 0;
    this.lost = null;
    device.lost.then((info) => { this.lost = `WebGPU device lost: ${info.reason} ${info.message}`; });
    this.info = { ...wasmEngine.info };
  }

  tokenize(text, addSpecial, parseSpecial) { return this.wasm.tokenize(text, addSpecial, parseSpecial); }
  tokenPiece(id) { return this.wasm.tokenPiece(id); }
  applyTemplate(messages, addGenerationPrompt) { return this.wasm.applyTemplate(messages, addGenerationPrompt); }
  rewind(nPast) { this.nPast = Math.max(0, Math.min(nPast, this.nPast)); }

  free() {
    for (const b of this.g.buffers) b.destroy();
    this.g.buffers = [];
    this.device.destroy();
  }

  async build() {
    const { desc: d, g } = this;
    const tensors = new Map(d.tensors.map((t) => [t.name, t]));
    const need = (name) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`tensor ${name} missing`);
      return t;
    };
    const matrix = (name) => {
      const t = need(name);
      const info = WEIGHT_TYPES[t.type];
      return { t, type: t.type, rows: t.dims[1], cols: t.dims[0],
               rowBytes: (t.dims[0] / info.blockSize) * info.typeSize,
               buf: g.upload(this.access.bytes(t.ptr, t.bytes), name) };
    };
    const vector = (name) => (tensors.has(name)
      ? g.upload(new Uint8Array(readVector(this.access, need(name)).buffer), name) : null);

    const B = g.maxBatch;
    const f = 4;
    const qDim = d.n_head * d.head_dim;
    const kvDim = d.n_head_kv * d.head_dim;
    const act = {
      x: g.storage(B * d.n_embd * f, "x"), xn: g.storage(B * d.n_embd * f, "xn"),
      proj: g.storage(B * d.n_embd * f, "proj"), q: g.storage(B * qDim * f, "q"),
      attn: g.storage(B * qDim * f, "attn"), gate: g.storage(B * d.n_ff * (d.fused_gate_up ? 2 : 1) * f, "gate"),
      qkv: d.fused_qkv ? g.storage(B * (qDim + 2 * kvDim) * f, "qkv") : null,
      up: g.storage(B * d.n_ff * f, "up"), scores: g.storage(B * d.n_head * d.n_ctx * f, "scores"),
      ids: g.storage(B * 4, "ids"), rope: g.storage(B * d.n_rot * f, "rope"),
      logits: g.storage(d.n_vocab * f, "logits"), dummy: g.storage(16, "dummy"),
      // The normed attention / FFN output of gemma's post norms, before its residual add.
      post: g.storage(B * d.n_embd * f, "post"), ropeLocal: g.storage(B * d.n_rot * f, "rope_local"),
    };
    this.act = act;
    this.readback = g.buffer(d.n_vocab * f, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, "readback");

    const embd = matrix("token_embd.weight");
    const output = tensors.has("output.weight") ? matrix("output.weight") : embd;
    const outputNorm = vector("output_norm.weight");
    const layers = [];
    for (let l = 0; l < d.n_layer; ++l) {
      const p = `blk.${l}.`;
      layers.push({
        attnNorm: vector(`${p}attn_norm.weight`), ffnNorm: vector(`${p}ffn_norm.weight`),
        // Fused [q; k; v] rows (phi3) or the three matrices.
        ...(d.fused_qkv ? { wqkv: matrix(`${p}attn_qkv.weight`) }
          : { wq: matrix(`${p}attn_q.weight`), wk: matrix(`${p}attn_k.weight`),
              wv: matrix(`${p}attn_v.weight`) }),
        wo: matrix(`${p}attn_output.weight`),
        bq: vector(`${p}attn_q.bias`), bk: vector(`${p}attn_k.bias`), bv: vector(`${p}attn_v.bias`),
        qNorm: vector(`${p}attn_q_norm.weight`), kNorm: vector(`${p}attn_k_norm.weight`),
        // With fused gate/up (phi3) ffn_up holds 2 n_ff rows: each output is [gate | up].
        gate: d.fused_gate_up ? null : matrix(`${p}ffn_gate.weight`), up: matrix(`${p}ffn_up.weight`),
        down: matrix(`${p}ffn_down.weight`),
        postAttnNorm: vector(`${p}post_attention_norm.weight`), postFfnNorm: vector(`${p}post_ffw_norm.weight`),
        kCache: g.storage(d.n_ctx * kvDim * f, `k${l}`), vCache: g.storage(d.n_ctx * kvDim * f, `v${l}`),
      });
    }
    this.weightBytes = d.tensors.reduce((s, t) => s + t.bytes, 0);

    // The step plan, in the order llama_family.cpp computes a batch.
    const split = (n) => {  // 1D workgroup count -> x/y grid under the 65535 limit
      const x = Math.min(n, 65535);
      return [x, Math.ceil(n / x), 1];
    };
    const mm = (w, x, y, { xOffset = () => 0, yOffset = () => 0, tokens = (n) => n } = {}) => {
      const threads = threadsPerRow(w.cols);
      const [gx, gy] = split(Math.ceil(w.rows / (64 / threads)));
      g.addOp("matmul", `${w.type}/${threads}`, [w.buf, x, y], (n, pos0) => ({
        rows: w.rows, cols: w.cols, n_tokens: tokens(n), row_bytes: w.rowBytes, grid_x: gx,
        x_offset: xOffset(n), y_offset: yOffset(pos0), perturb: g.perturb }),
        (n) => [gx, gy, tokens(n) === 1 ? 1 : Math.ceil(tokens(n) / PROMPT_TOK)]);
    };
    // Y = rms_norm(X (+= D)) * weight; by default the residual stream plus a block's output.
    const addNorm = (doAdd, weight, { x = act.x, delta = act.proj, out = act.xn } = {}) =>
      g.addOp("add_norm", "", [x, delta, weight, out],
        () => ({ n: d.n_embd, do_add: doAdd ? 1 : 0, eps: d.rms_eps }), (n) => [n, 1, 1]);
    const headPrep = (buf, nHeads, bias, norm, rope, offset, table = act.rope) => g.addOp("head_prep", "",
      [buf, bias ?? act.dummy, norm ?? act.dummy, table], (n, pos0) => ({
        n_heads: nHeads, head_dim: d.head_dim, n_rot: d.n_rot, neox: d.rope_style === "neox" ? 1 : 0,
        has_bias: bias ? 1 : 0, has_norm: norm ? 1 : 0, do_rope: rope ? 1 : 0, eps: d.rms_eps,
        r_offset: offset(pos0) }), (n) => [n * nHeads, 1, 1]);

    g.addOp("embed", embd.type, [embd.buf, act.ids, act.x], (n) => ({
      cols: embd.cols, row_bytes: embd.rowBytes, n_tokens: n,
      scale: d.scale_embedding ? Math.sqrt(d.n_embd) : 1 }), (n) => [n, 1, 1]);
    // The previous block's output to add to the residual: post-normed (gemma) or as is.
    let blockOut = act.proj;
    layers.forEach((L, l) => {
      // Sliding-window layers (every layer with swa_period 0, e.g. phi3; all but every
      // swa_period-th with it, gemma3), as HyperParams::layer_is_swa; with swa_period they
      // rotate with the local RoPE table.
      const swa = d.n_swa > 0 && (d.swa_period <= 0 || l % d.swa_period !== d.swa_period - 1);
      const table = swa && d.swa_period > 0 ? act.ropeLocal : act.rope;
      addNorm(l > 0, L.attnNorm, { delta: blockOut });
      const atPos = (pos0) => pos0 * kvDim;
      if (L.wqkv) {
        mm(L.wqkv, act.xn, act.qkv);
        g.addOp("split_qkv", "", [act.qkv, act.q, L.kCache, L.vCache], (n, pos0) => ({
          n: n * (qDim + 2 * kvDim), q_dim: qDim, kv_dim: kvDim, kv_offset: atPos(pos0) }),
          (n) => split(Math.ceil((n * (qDim + 2 * kvDim)) / 64)));
      } else {
        mm(L.wq, act.xn, act.q);
        mm(L.wk, act.xn, L.kCache, { yOffset: atPos });
        mm(L.wv, act.xn, L.vCache, { yOffset: atPos });
      }
      headPrep(act.q, d.n_head, L.bq, L.qNorm, true, () => 0, table);
      headPrep(L.kCache, d.n_head_kv, L.bk, L.kNorm, true, atPos, table);
      if (L.bv) headPrep(L.vCache, d.n_head_kv, L.bv, null, false, atPos);
      g.addOp("attention", "", [act.q, L.kCache, L.vCache, act.scores, act.attn], (n, pos0) => ({
        n_head: d.n_head, n_head_kv: d.n_head_kv, head_dim: d.head_dim, pos0, n_ctx: d.n_ctx,
        n_swa: swa ? d.n_swa : 0, scale: 1 / Math.sqrt(d.head_dim) }), (n) => [n * d.n_head, 1, 1]);
      mm(L.wo, act.attn, act.proj);
      if (L.postAttnNorm) addNorm(false, L.postAttnNorm, { x: act.proj, delta: act.dummy, out: act.post });
      addNorm(true, L.ffnNorm, { delta: L.postAttnNorm ? act.post : act.proj });
      if (L.gate) {
        mm(L.gate, act.xn, act.gate);
        mm(L.up, act.xn, act.up);
      } else {
        mm(L.up, act.xn, act.gate);
      }
      g.addOp("swiglu", "", [act.gate, act.up], (n) => ({ n: n * d.n_ff, n_ff: d.n_ff,
        fused: L.gate ? 0 : 1, gelu: d.ffn_silu ? 0 : 1 }), (n) => split(Math.ceil((n * d.n_ff) / 64)));
      mm(L.down, act.up, act.proj);
      if (L.postFfnNorm) addNorm(false, L.postFfnNorm, { x: act.proj, delta: act.dummy, out: act.post });
      blockOut = L.postFfnNorm ? act.post : act.proj;
    });
    addNorm(true, outputNorm, { delta: blockOut });
    // Only the last token's logits are needed: one row of the output projection.
    mm(output, act.xn, act.logits, { xOffset: (n) => (n - 1) * d.n_embd, tokens: () => 1 });

    // Pipelines (both matmul shapes for every weight type in use) and bind groups, once.
    const sources = {
      add_norm: () => ADD_NORM, head_prep: () => HEAD_PREP, attention: () => ATTENTION,
      swiglu: () => SWIGLU, split_qkv: () => SPLIT_QKV, embed: (type) => embedSource(type),
    };
    this.params = g.buffer(g.ops.length * PARAM_SLOT, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, "params");
    this.paramBytes = new ArrayBuffer(g.ops.length * PARAM_SLOT);
    for (const op of g.ops) {
      if (op.kernel === "matmul") {
        const [type, threads] = op.pipelineKeys.split("/");
        op.decode = await g.pipeline("matmul", `${op.pipelineKeys}/1`, matmulSource(type, 1, threads));
        op.prompt = await g.pipeline("matmul", `${op.pipelineKeys}/${PROMPT_TOK}`,
          matmulSource(type, PROMPT_TOK, threads));
      } else {
        op.decode = op.prompt = await g.pipeline(op.kernel, op.pipelineKeys, sources[op.kernel](op.pipelineKeys));
      }
      op.bindGroup = this.device.createBindGroup({ layout: g.layout(op.kernel).bgl, entries: [
        { binding: 0, resource: { buffer: this.params, offset: op.slot * PARAM_SLOT, size: PARAM_SLOT } },
        ...op.resources.map((buffer, i) => ({ binding: i + 1, resource: { buffer } }))] });
    }
  }

  // cos/sin of every (token, frequency) of the batch, in double as build_rope_table computes
  // them, with llama3's rope_freqs divisors and linear scaling.
  ropeTable(n, pos0, local = false) {
    const d = local ? { ...this.desc, rope_freq_base: this.desc.rope_freq_base_swa, rope_factors: [],
                        rope_freq_scale: 1, rope_attn_factor: 1 } : this.desc;
    const nFreq = d.n_rot / 2;
    const table = new Float32Array(n * d.n_rot);
    for (let t = 0; t < n; ++t) {
      for (let i = 0; i < nFreq; ++i) {
        let freq = d.rope_freq_base ** (-2 * i / d.n_rot);
        if (d.rope_factors.length) freq /= d.rope_factors[i];
        const theta = (pos0 + t) * freq * d.rope_freq_scale;
        table[t * d.n_rot + i] = Math.cos(theta) * d.rope_attn_factor;
        table[t * d.n_rot + nFreq + i] = Math.sin(theta) * d.rope_attn_factor;
      }
    }
    return table;
  }

  // Evaluates `ids` after the cached positions, in batches of at most maxBatch tokens; returns
  // the last token's logits (one readback per batch).
  async decode(ids) {
    if (this.lost) throw new Error(this.lost);
    ids = Int32Array.from(ids);
    if (ids.length === 0) throw new Error("nothing to decode");
    if (this.nPast + ids.length > this.desc.n_ctx) {
      throw new Error(`context full: ${this.nPast} + ${ids.length} tokens > n_ctx ${this.desc.n_ctx}`);
    }
    for (const id of ids) {
      if (id < 0 || id >= this.desc.n_vocab) throw new Error(`token ${id} outside the vocabulary`);
    }
    // A failure leaves the cache as it was (later batches' positions are simply unused).
    const before = this.nPast;
    try {
      let logits;
      for (let start = 0; start < ids.length; start += this.g.maxBatch) {
        logits = await this.step(ids.subarray(start, Math.min(ids.length, start + this.g.maxBatch)));
      }
      return logits;
    } catch (e) {
      this.nPast = before;
      throw e;
    }
  }

  async step(ids) {
    const { device, g, act } = this;
    const n = ids.length;
    const pos0 = this.nPast;
    device.queue.writeBuffer(act.ids, 0, Uint32Array.from(ids));
    device.queue.writeBuffer(act.rope, 0, this.ropeTable(n, pos0));
    if (this.desc.swa_period > 0) device.queue.writeBuffer(act.ropeLocal, 0, this.ropeTable(n, pos0, true));
    const view = new DataView(this.paramBytes);
    for (const op of g.ops) packParams(op.kernel, op.params(n, pos0), view, op.slot * PARAM_SLOT);
    device.queue.writeBuffer(this.params, 0, this.paramBytes);
    device.pushErrorScope("validation");
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (const op of g.ops) {
      pass.setPipeline(n === 1 ? op.decode : op.prompt);
      pass.setBindGroup(0, op.bindGroup);
      const [x, y, z] = op.grid(n);
      pass.dispatchWorkgroups(x, y, z);
    }
    pass.end();
    encoder.copyBufferToBuffer(act.logits, 0, this.readback, 0, this.desc.n_vocab * 4);
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) throw new Error(`WebGPU validation: ${error.message}`);
    await this.readback.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    this.nPast = pos0 + n;
    return logits;
  }
}

export { compareLogits, smokeTest, createAutoEngine } from "./webgpu_smoke.js";
