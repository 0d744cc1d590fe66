// WGSL sources of the WebGPU path (wasm/js/webgpu.js uses them; docs/webgpu.md explains the
// design). Written for this project; the block layouts are GGUF's (src/engine/tensor/
// quant_blocks.h), decoded here in the shader from the file's raw bytes.
//
// Every kernel's parameters are a uniform struct of 32-bit fields, declared once below as a
// list ([name, "u32" | "f32"]) from which both the WGSL struct and the JS writer
// (packParams) are generated, so the two can never disagree on the layout.
//
// Weights are bound as array<u32> holding the tensor's bytes unchanged (padded to a
// multiple of 4). Quant blocks are 18 to 34 (Q4_0 .. Q8_0) or 144 to 210 (Q4_K .. Q6_K) bytes, so
// blocks are not word-aligned: the shader extracts bytes and 16-bit halves from the words.
// A half never straddles two words because every F16 field sits at an even offset.
// The adapters we test on (SwiftShader) lack the shader-f16 feature, so halves are decoded
// with unpack2x16float (core WGSL) and all arithmetic is F32.

// Elements per block and bytes per block of each weight type the GPU path computes with.
export const WEIGHT_TYPES = {
  F32: { blockSize: 1, typeSize: 4 },
  F16: { blockSize: 1, typeSize: 2 },
  Q8_0: { blockSize: 32, typeSize: 34 },
  Q4_0: { blockSize: 32, typeSize: 18 },
  Q4_1: { blockSize: 32, typeSize: 20 },
  Q5_0: { blockSize: 32, typeSize: 22 },
  Q5_1: { blockSize: 32, typeSize: 24 },
  Q5_K: { blockSize: 256, typeSize: 176 },
  Q4_K: { blockSize: 256, typeSize: 144 },
  Q6_K: { blockSize: 256, typeSize: 210 },
};

// Uniform parameters of each kernel, in struct order.
export const PARAMS = {
  matmul: [["rows", "u32"], ["cols", "u32"], ["n_tokens", "u32"], ["row_bytes", "u32"],
           ["grid_x", "u32"], ["x_offset", "u32"], ["y_offset", "u32"], ["perturb", "f32"]],
  embed: [["cols", "u32"], ["row_bytes", "u32"], ["n_tokens", "u32"], ["scale", "f32"]],
  add_norm: [["n", "u32"], ["do_add", "u32"], ["eps", "f32"]],
  head_prep: [["n_heads", "u32"], ["head_dim", "u32"], ["n_rot", "u32"], ["neox", "u32"],
              ["has_bias", "u32"], ["has_norm", "u32"], ["do_rope", "u32"], ["r_offset", "u32"],
              ["eps", "f32"]],
  attention: [["n_head", "u32"], ["n_head_kv", "u32"], ["head_dim", "u32"], ["pos0", "u32"],
              ["n_ctx", "u32"], ["n_swa", "u32"], ["scale", "f32"]],
  swiglu: [["n", "u32"], ["n_ff", "u32"], ["fused", "u32"], ["gelu", "u32"]],
  split_qkv: [["n", "u32"], ["q_dim", "u32"], ["kv_dim", "u32"], ["kv_offset", "u32"]],
};

function structOf(kernel) {
  const fields = PARAMS[kernel].map(([name, type]) => `  ${name}: ${type},`).join("\n");
  return `struct Params {\n${fields}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n`;
}

// Writes `values` (an object with every field of PARAMS[kernel]) into `view` at `byteOffset`.
export function packParams(kernel, values, view, byteOffset) {
  PARAMS[kernel].forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined) throw new Error(`${kernel}: parameter ${name} missing`);
    if (type === "u32") view.setUint32(byteOffset + 4 * i, v, true);
    else view.setFloat32(byteOffset + 4 * i, v, true);
  });
}

// Byte and half readers over the raw weight words W, shared by every weight type.
const BYTE_READERS = /* wgsl */ `
fn byte_at(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
fn i8_at(o: u32) -> f32 { return f32(bitcast<i32>(byte_at(o) << 24u) >> 24u); }
fn half_at(o: u32) -> f32 { return unpack2x16float((W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu).x; }
// The 4 bytes at the even offset o as one word, byte o lowest: one or two loads instead of
// four byte loads. Every code run below starts at an even offset (blocks have even sizes).
// Reading W[i + 1] stays inside the buffer: its size is rounded up to whole words.
fn word_at(o: u32) -> u32 {
  let i = o >> 2u;
  if ((o & 2u) == 0u) { return W[i]; }
  return (W[i] >> 16u) | (W[i + 1u] << 16u);
}
`;

// The 32-element block types Q4_0, Q4_1, Q5_0, Q5_1: f16 scale d, for the _1 types an f16
// offset m, for the 5-bit types a little-endian u32 qh of fifth bits (bit j for element j),
// then 16 bytes: element j is the low nibble of byte j, element j + 16 its high nibble.
// x = d * (q - 8) (Q4_0), d * (q - 16) (Q5_0), d * q + m (Q4_1, Q5_1).
function legacyQuant({ size, min, high }) {
  const qhAt = min ? 4 : 2;
  const qsAt = qhAt + (high ? 4 : 0);
  const bias = min ? "0.0" : high ? "16.0" : "8.0";
  return /* wgsl */ `
fn dequant_group(row_byte: u32, g: u32) -> array<f32, GROUP> {
  var w: array<f32, GROUP>;
  let base = row_byte + g * ${size}u;
  let d = half_at(base);
  let m = ${min ? "half_at(base + 2u)" : "0.0"};
  let qh = ${high ? `word_at(base + ${qhAt}u)` : "0u"};
  for (var k = 0u; k < 4u; k++) {
    let v = word_at(base + ${qsAt}u + 4u * k);
    for (var b = 0u; b < 4u; b++) {
      let j = 4u * k + b;
      let byte = (v >> (8u * b)) & 255u;
      let lo = (byte & 15u) | (((qh >> j) & 1u) << 4u);
      let hi = (byte >> 4u) | (((qh >> (j + 16u)) & 1u) << 4u);
      w[j] = d * (f32(lo) - ${bias}) + m;
      w[j + 16u] = d * (f32(hi) - ${bias}) + m;
    }
  }
  return w;
}`;
}

// Q4_K and Q5_K: 256 elements as 8 groups of 32. f16 d and dmin, 12 bytes packing 8 six-bit
// scales and 8 six-bit mins, (Q5_K) 32 bytes qh whose bit j of byte l is the fifth bit of
// element 32j + l, then 128 bytes of nibbles: groups 2c and 2c+1 are the low and high
// nibbles of bytes [32c, 32c + 32). x = d * scale_j * q - dmin * min_j.
function kQuant45({ size, high }) {
  const qsAt = high ? 48 : 16;
  return /* wgsl */ `
fn dequant_group(row_byte: u32, g: u32) -> array<f32, GROUP> {
  var w: array<f32, GROUP>;
  let base = row_byte + (g / 8u) * ${size}u;
  let j = g % 8u;
  let d = half_at(base);
  let dmin = half_at(base + 2u);
  let s = base + 4u;
  var sc: u32;
  var mn: u32;
  if (j < 4u) {
    sc = byte_at(s + j) & 63u;
    mn = byte_at(s + j + 4u) & 63u;
  } else {
    sc = (byte_at(s + j + 4u) & 15u) | ((byte_at(s + j - 4u) >> 6u) << 4u);
    mn = (byte_at(s + j + 4u) >> 4u) | ((byte_at(s + j) >> 6u) << 4u);
  }
  let scale = d * f32(sc);
  let offset = dmin * f32(mn);
  let qs = base + ${qsAt}u + (j / 2u) * 32u;
  let shift = (j % 2u) * 4u;
  for (var k = 0u; k < 8u; k++) {
    let v = word_at(qs + 4u * k);
    let h = ${high ? "word_at(base + 16u + 4u * k)" : "0u"};
    for (var b = 0u; b < 4u; b++) {
      let q = ((v >> (8u * b + shift)) & 15u) | (((h >> (8u * b + j)) & 1u) << 4u);
      w[4u * k + b] = scale * f32(q) - offset;
    }
  }
  return w;
}`;
}

// dequant_group(row_byte, g): elements [GROUP g, GROUP (g + 1)) of the row starting at byte
// row_byte. Every type's row splits into such groups (the quant types' blocks are 32 or 8 x 32
// elements; F32/F16 rows use groups of 16, since some models' rows are not multiples of 32:
// tiny-gemma3's 48), which lets one kernel shape serve all of them.
export function groupSize(type) {
  return type === "F32" || type === "F16" ? 16 : 32;
}
const DEQUANT = {
  F32: /* wgsl */ `
fn dequant_group(row_byte: u32, g: u32) -> array<f32, GROUP> {
  var w: array<f32, GROUP>;
  let base = (row_byte >> 2u) + g * 16u;
  for (var i = 0u; i < 16u; i++) { w[i] = bitcast<f32>(W[base + i]); }
  return w;
}`,
  F16: /* wgsl */ `
fn dequant_group(row_byte: u32, g: u32) -> array<f32, GROUP> {
  var w: array<f32, GROUP>;
  let base = (row_byte >> 2u) + g * 8u;  // 16 halves = 8 words
  for (var i = 0u; i < 8u; i++) {
    let pair = unpack2x16float(W[base + i]);
    w[2u * i] = pair.x;
    w[2u * i + 1u] = pair.y;
  }
  return w;
}`,
  // Q8_0: f16 scale d, then 32 int8 codes; x = d * q.
  Q8_0: /* wgsl */ `
fn dequant_group(row_byte: u32, g: u32) -> array<f32, GROUP> {
  var w: array<f32, GROUP>;
  let base = row_byte + g * 34u;
  let d = half_at(base);
  for (var k = 0u; k < 8u; k++) {
    let v = word_at(base + 2u + 4u * k);
    for (var b = 0u; b < 4u; b++) { w[4u * k + b] = d * f32(bitcast<i32>(v << (24u - 8u * b)) >> 24u); }
  }
  return w;
}`,
  Q4_0: legacyQuant({ size: 18, min: false, high: false }),
  Q4_1: legacyQuant({ size: 20, min: true, high: false }),
  Q5_0: legacyQuant({ size: 22, min: false, high: true }),
  Q5_1: legacyQuant({ size: 24, min: true, high: true }),
  Q4_K: kQuant45({ size: 144, high: false }),
  Q5_K: kQuant45({ size: 176, high: true }),
  // Q6_K: 256 elements as two halves of 128, each four quarters of 32. Bytes: ql[128] (low 4
  // bits), qh[64] (high 2 bits), 16 int8 scales, f16 d. In half n, quarter q, element l:
  // low bits from ql[64n + 32(q & 1) + l] (low nibble for q < 2, else high), high bits
  // (qh[32n + l] >> 2q) & 3, scale sc[8n + 2q + l / 16]; x = d * scale * (6-bit code - 32).
  Q6_K: /* wgsl */ `
fn dequant_group(row_byte: u32, g: u32) -> array<f32, GROUP> {
  var w: array<f32, GROUP>;
  let base = row_byte + (g / 8u) * 210u;
  let n = (g % 8u) / 4u;
  let q = g % 4u;
  let d = half_at(base + 208u);
  let ql = base + 64u * n + 32u * (q & 1u);
  let lo_shift = select(0u, 4u, q >= 2u);
  let qh = base + 128u + 32u * n;
  let sc = base + 192u + 8u * n + 2u * q;
  for (var k = 0u; k < 8u; k++) {
    let lo_word = word_at(ql + 4u * k);
    let hi_word = word_at(qh + 4u * k);
    let scale = d * i8_at(sc + k / 4u);  // elements 16m .. 16m + 15 share scale m
    for (var b = 0u; b < 4u; b++) {
      let lo = (lo_word >> (8u * b + lo_shift)) & 15u;
      let hi = (hi_word >> (8u * b + 2u * q)) & 3u;
      w[4u * k + b] = scale * (f32(lo | (hi << 4u)) - 32.0);
    }
  }
  return w;
}`,
};

// Threads that share one output row: enough that each handles about 4 of the row's
// 32-element groups (a power of two, at most 64). A small model's rows (64 or 256 elements)
// then take 1 or 2 threads instead of leaving most of a 64-thread workgroup idle, which on
// SwiftShader made a 128k-row output projection cost seconds per token.
export function threadsPerRow(cols) {
  const groups = Math.ceil(cols / 32);
  let t = 1;
  while (t < 64 && t * 4 < groups) t *= 2;
  return t;
}

// Y[y_offset + t * rows + r] = sum_k W[r, k] * X[x_offset + t * cols + k] (+ perturb on every
// third row, a deliberate corruption for testing the smoke test). A workgroup of 64 threads
// computes 64 / THREADS rows for TOK tokens: the THREADS threads of a row split its
// 32-element groups, dequantize each group once and use it for all TOK tokens (TOK = 1: the
// matrix-vector kernel for decoding; TOK = 8: the matrix-matrix kernel for prompts, which
// reads each weight once per 8 tokens), then reduce in workgroup memory. Workgroups beyond
// 65535 go to the grid's y dimension (the x limit).
export function matmulSource(type, tok, threads) {
  return /* wgsl */ `${structOf("matmul")}
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
const TOK: u32 = ${tok}u;
const THREADS: u32 = ${threads}u;
var<workgroup> partial: array<f32, ${64 * tok}>;
const GROUP: u32 = ${groupSize(type)}u;
${BYTE_READERS}
${DEQUANT[type]}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % THREADS;
  let row = (wg.x + wg.y * P.grid_x) * (64u / THREADS) + lid / THREADS;
  let t0 = wg.z * TOK;
  var acc: array<f32, TOK>;
  let nt = min(TOK, P.n_tokens - t0);
  if (row < P.rows) {
    let row_byte = row * P.row_bytes;
    for (var g = lane; g < P.cols / GROUP; g += THREADS) {
      let w = dequant_group(row_byte, g);
      for (var t = 0u; t < nt; t++) {
        let xb = P.x_offset + (t0 + t) * P.cols + g * GROUP;
        var s = 0.0;
        for (var i = 0u; i < GROUP; i++) { s += w[i] * X[xb + i]; }
        acc[t] += s;
      }
    }
  }
  for (var t = 0u; t < TOK; t++) { partial[t * 64u + lid] = acc[t]; }
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      for (var t = 0u; t < TOK; t++) { partial[t * 64u + lid] += partial[t * 64u + lid + stride]; }
    }
    workgroupBarrier();
  }
  if (lane == 0u && row < P.rows) {
    let bump = select(0.0, P.perturb, row % 3u == 0u);
    for (var t = 0u; t < nt; t++) { Y[P.y_offset + (t0 + t) * P.rows + row] = partial[t * 64u + lid] + bump; }
  }
}`;
}

// The rows of the token embedding for each id, as F32 (one workgroup per token), times
// `scale` (gemma's sqrt(n_embd); 1 elsewhere).
export function embedSource(type) {
  return /* wgsl */ `${structOf("embed")}
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
const GROUP: u32 = ${groupSize(type)}u;
${BYTE_READERS}
${DEQUANT[type]}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wg.x;
  let row_byte = ids[t] * P.row_bytes;
  for (var g = lid; g < P.cols / GROUP; g += 64u) {
    let w = dequant_group(row_byte, g);
    for (var i = 0u; i < GROUP; i++) { Y[t * P.cols + g * GROUP + i] = w[i] * P.scale; }
  }
}`;
}

// Sum of `value` over the 64 threads of a workgroup (every thread gets it). Each kernel that
// uses it declares its own `red` array (workgroup memory cannot be shared between modules).
const REDUCE = /* wgsl */ `
var<workgroup> red: array<f32, 64>;
fn workgroup_sum(lid: u32, value: f32) -> f32 {
  red[lid] = value;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { red[lid] += red[lid + stride]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();  // before anyone writes red again
  return total;
}
fn workgroup_max(lid: u32, value: f32) -> f32 {
  red[lid] = value;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { red[lid] = max(red[lid], red[lid + stride]); }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
`;

// One row per workgroup: optionally X += D (the residual add), then Y = rms_norm(X) * weight.
// The engine fuses the same two steps (add_rms_norm_rows in llama_family.cpp).
export const ADD_NORM = /* wgsl */ `${structOf("add_norm")}
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> D: array<f32>;
@group(0) @binding(3) var<storage, read> Wn: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
${REDUCE}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wg.x * P.n;
  var sum_sq = 0.0;
  for (var i = lid; i < P.n; i += 64u) {
    var v = X[base + i];
    if (P.do_add != 0u) {
      v += D[base + i];
      X[base + i] = v;
    }
    sum_sq += v * v;
  }
  let scale = inverseSqrt(workgroup_sum(lid, sum_sq) / f32(P.n) + P.eps);
  for (var i = lid; i < P.n; i += 64u) { Y[base + i] = X[base + i] * scale * Wn[i]; }
}`;

// One (token, head) per workgroup, in place on rows of n_heads * head_dim: add the bias, apply
// the per-head RMS norm (qwen3's q/k norms), then rotate the first n_rot dims by the angles of
// the token's row of the cos/sin table (computed on the CPU in double, as the engine does).
// neox: pairs (i, i + n_rot/2), else adjacent pairs (2i, 2i + 1).
export const HEAD_PREP = /* wgsl */ `${structOf("head_prep")}
@group(0) @binding(1) var<storage, read_write> R: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> norm: array<f32>;
@group(0) @binding(4) var<storage, read> rope: array<f32>;  // per token: cos[n_rot/2], sin[n_rot/2]
${REDUCE}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wg.x / P.n_heads;
  let h = wg.x % P.n_heads;
  let base = P.r_offset + wg.x * P.head_dim;
  var sum_sq = 0.0;
  for (var i = lid; i < P.head_dim; i += 64u) {
    var v = R[base + i];
    if (P.has_bias != 0u) { v += bias[h * P.head_dim + i]; }
    R[base + i] = v;
    sum_sq += v * v;
  }
  if (P.has_norm != 0u) {
    let scale = inverseSqrt(workgroup_sum(lid, sum_sq) / f32(P.head_dim) + P.eps);
    for (var i = lid; i < P.head_dim; i += 64u) { R[base + i] = R[base + i] * scale * norm[i]; }
  }
  storageBarrier();
  workgroupBarrier();
  if (P.do_rope != 0u) {
    let n_freq = P.n_rot / 2u;
    let table = t * P.n_rot;
    for (var i = lid; i < n_freq; i += 64u) {
      var a: u32;
      var b: u32;
      if (P.neox != 0u) { a = base + i; b = a + n_freq; } else { a = base + 2u * i; b = a + 1u; }
      let c = rope[table + i];
      let s = rope[table + n_freq + i];
      let x0 = R[a];
      let x1 = R[b];
      R[a] = x0 * c - x1 * s;
      R[b] = x0 * s + x1 * c;
    }
  }
}`;

// Causal attention, one (token, head) per workgroup: scores against every cached position up
// to the token's own (pos0 + t) and, with a sliding window (n_swa > 0, every layer: phi3),
// after pos0 + t - n_swa, as the engine's attention tiles do; softmax in F32, weighted sum of the values. Heads share K/V
// heads in groups of n_head / n_head_kv (GQA). Scores go to global scratch S (n_ctx per
// (token, head)): workgroup memory could not hold a long context.
export const ATTENTION = /* wgsl */ `${structOf("attention")}
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;  // cache: n_ctx x kv_dim
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read_write> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<f32>;
${REDUCE}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wg.x / P.n_head;
  let h = wg.x % P.n_head;
  let kv_dim = P.n_head_kv * P.head_dim;
  let kv_off = (h / (P.n_head / P.n_head_kv)) * P.head_dim;
  let q = wg.x * P.head_dim;
  let n_keys = P.pos0 + t + 1u;
  let first = select(0u, n_keys - P.n_swa, P.n_swa > 0u && n_keys > P.n_swa);
  let s = wg.x * P.n_ctx;
  var best = -3.0e38;
  for (var j = first + lid; j < n_keys; j += 64u) {
    var dot = 0.0;
    for (var i = 0u; i < P.head_dim; i++) { dot += Q[q + i] * K[j * kv_dim + kv_off + i]; }
    dot *= P.scale;
    S[s + j] = dot;
    best = max(best, dot);
  }
  best = workgroup_max(lid, best);
  var total = 0.0;
  for (var j = first + lid; j < n_keys; j += 64u) {
    let e = exp(S[s + j] - best);
    S[s + j] = e;
    total += e;
  }
  total = workgroup_sum(lid, total);
  storageBarrier();
  for (var i = lid; i < P.head_dim; i += 64u) {
    var acc = 0.0;
    for (var j = first; j < n_keys; j++) { acc += S[s + j] * V[j * kv_dim + kv_off + i]; }
    O[q + i] = acc / total;
  }
}`;

// U = silu(G) * U, element-wise (SwiGLU): silu(x) = x / (1 + e^-x), as the engine computes it;
// with gelu, GELU-tanh in place of silu.
// fused (phi3's gate/up in one matrix): each token's G row is [gate (n_ff) | up (n_ff)], and
// U[t * n_ff + c] = silu(gate[c]) * up[c].
export const SWIGLU = /* wgsl */ `${structOf("swiglu")}
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> U: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * 65535u * 64u;
  if (i < P.n) {
    var x: f32;
    var u: f32;
    if (P.fused != 0u) {
      let row = (i / P.n_ff) * 2u * P.n_ff + i % P.n_ff;
      x = G[row];
      u = G[row + P.n_ff];
    } else {
      x = G[i];
      u = U[i];
    }
    if (P.gelu != 0u) {
      // GeGLU with GELU's tanh form (gemma), as x / (1 + e^(-2u)) like the engine's geglu_tanh.
      let two_u = 2.0 * 0.79788456080286536 * x * (1.0 + 0.044715 * x * x);
      U[i] = x / (1.0 + exp(-two_u)) * u;
    } else {
      U[i] = x / (1.0 + exp(-x)) * u;
    }
  }
}`;

// Splits fused [q | k | v] rows (phi3's attn_qkv): q to Q, k and v into the layer's caches
// at the batch's positions (kv_offset = pos0 * kv_dim), one element per thread.
export const SPLIT_QKV = /* wgsl */ `${structOf("split_qkv")}
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<f32>;
@group(0) @binding(3) var<storage, read_write> K: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * 65535u * 64u;
  if (i < P.n) {
    let width = P.q_dim + 2u * P.kv_dim;
    let t = i / width;
    let c = i % width;
    if (c < P.q_dim) {
      Q[t * P.q_dim + c] = S[i];
    } else if (c < P.q_dim + P.kv_dim) {
      K[P.kv_offset + t * P.kv_dim + c - P.q_dim] = S[i];
    } else {
      V[P.kv_offset + t * P.kv_dim + c - P.q_dim - P.kv_dim] = S[i];
    }
  }
}`;
