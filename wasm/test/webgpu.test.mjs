// The WebGPU path (wasm/js/webgpu.js) in Debian's headless chromium on SwiftShader's WebGPU
// adapter: the fixture models' logits from the GPU engine against the shared references
// (fixtures/README.md rules, as reference.test.mjs and nlc.test.mjs apply them to the wasm
// path), the smoke test against the wasm engine in the same page, a deliberately perturbed
// kernel that the smoke test must catch, and refusals with a reason.
//
// Needs build-wasm/ (make test-wasm builds it), /usr/bin/chromium (or HEARTH_CHROMIUM) and
// tests/e2e's node_modules (puppeteer-core; `npm ci` there). SwiftShader is a CPU rasterizer:
// this checks correctness, not speed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { fixturesDir } from "./engine.mjs";
import { checkTeacherPosition } from "./reference_rules.mjs";
import { openWebGpuPage } from "./webgpu_page.mjs";

const refDir = path.join(fixturesDir, "reference");
const readJson = (file) => JSON.parse(readFileSync(path.join(refDir, file), "utf8"));

// Without a browser: the refusal of a weight type without a kernel (none of the fixtures that
// pass the architecture checks has one).
test("a tensor type without a WGSL kernel, or an architecture variation without a GPU path, is refused with the reason", async () => {
  const { unsupportedReason } = await import("../js/webgpu.js");
  const desc = { family: "llama", arch: "llama", fused_qkv: false, fused_gate_up: false,
                 post_norms: false, scale_embedding: false, ffn_silu: true, n_swa: 0, swa_period: 0,
                 nope_period: 0, n_expert: 0, rope_scaling: "none", n_head: 4, n_head_kv: 2,
                 head_dim: 64, tensors: [{ name: "blk.0.attn_q.weight", type: "Q8_0", dims: [256, 256] }] };
  assert.equal(unsupportedReason(desc), null);
  desc.tensors.push({ name: "blk.0.ffn_down.weight", type: "Q3_K", dims: [512, 256] });
  assert.equal(unsupportedReason(desc), "tensor blk.0.ffn_down.weight: type Q3_K has no WebGPU kernel");
  desc.tensors[1] = { name: "blk.0.ffn_down.weight", type: "F16", dims: [40, 256] };
  assert.equal(unsupportedReason(desc), "tensor blk.0.ffn_down.weight: row length 40 is not a multiple of 16");
  desc.tensors.pop();
  // Architecture variations without a GPU implementation (smollm3's layers without RoPE,
  // mixtures of experts, YaRN) and encoders.
  assert.equal(unsupportedReason({ ...desc, nope_period: 4, arch: "smollm3" }),
               "arch smollm3: layers without RoPE (not implemented on WebGPU)");
  assert.equal(unsupportedReason({ ...desc, n_expert: 8, arch: "qwen3moe" }),
               "arch qwen3moe: mixture of experts (not implemented on WebGPU)");
  assert.equal(unsupportedReason({ ...desc, rope_scaling: "yarn" }),
               "arch llama: YaRN RoPE (not implemented on WebGPU)");
  assert.equal(unsupportedReason({ ...desc, family: "bert", arch: "bert" }),
               "arch bert: not a llama-family decoder");
});

let session;
let page;
let adapter;
before(async () => {
  session = await openWebGpuPage();
  ({ page, adapter } = session);
});
after(() => session?.close());

test("SwiftShader's WebGPU adapter is available in headless chromium", () => {
  assert.equal(adapter.ok, true, adapter.reason);
  console.log(`# adapter: ${JSON.stringify(adapter.adapterInfo)}`);
});

// Each WGSL matmul against the engine's own dequantization (hearth_dequantize) on random
// blocks: every code bit pattern is random, the F16 scales random in [-1, 1) (random bytes
// there would be NaN/Inf halves). One token (matrix-vector) and 11 (matrix-matrix, a full and
// a partial tile of 8). The reference sums in double; the GPU in F32 over 64 partial sums.
const GGUF_TYPE_IDS = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q4_K: 12,
                        Q5_K: 13, Q6_K: 14 };
for (const [type, typeId] of Object.entries(GGUF_TYPE_IDS)) {
  test(`WGSL matmul of ${type} equals the engine's dequantization times x`, async () => {
    const worst = await page.evaluate(async (type, typeId) => {
      const { WEIGHT_TYPES } = await import("/wasm/js/webgpu_kernels.js");
      const m = window.hearthModule;
      const { blockSize, typeSize } = WEIGHT_TYPES[type];
      const rows = 70;
      const cols = 512;
      let seed = 12345 + typeId;
      const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const nBytes = rows * (cols / blockSize) * typeSize;
      const w = new Uint8Array(nBytes);
      for (let i = 0; i < nBytes; ++i) w[i] = Math.floor(rand() * 256);
      const view = new DataView(w.buffer);
      // A half in [-1, 1): sign, exponent 0..14 (no Inf/NaN), random mantissa.
      const half = () => ((rand() < 0.5 ? 0x8000 : 0) | (Math.floor(rand() * 15) << 10) | Math.floor(rand() * 1024));
      const halvesAt = { F16: [...Array(typeSize / 2).keys()].map((i) => 2 * i), Q8_0: [0], Q4_0: [0],
                         Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208],
                         F32: [] };
      for (let b = 0; b < nBytes / typeSize; ++b) {
        for (const o of halvesAt[type]) view.setUint16(b * typeSize + o, half(), true);
        if (type === "F32") view.setFloat32(b * 4, rand() * 2 - 1, true);
      }
      const src = m._malloc(nBytes) >>> 0;  // unsigned: the heap may pass 2 GiB
      const dst = m._malloc(rows * cols * 4) >>> 0;
      m.HEAPU8.set(w, src);
      if (m._hearth_dequantize(typeId, src, rows * cols, dst) !== 0) throw new Error(m.UTF8ToString(m._hearth_last_error()));
      const deq = Float64Array.from(m.HEAPF32.subarray(dst >>> 2, (dst >>> 2) + rows * cols));
      m._free(src);
      m._free(dst);
      let worst = 0;
      for (const nTokens of [1, 11]) {
        const x = new Float32Array(nTokens * cols);
        for (let i = 0; i < x.length; ++i) x[i] = rand() * 2 - 1;
        const y = await window.gpu.matmulOnGpu(type, w, rows, cols, x, nTokens);
        for (let t = 0; t < nTokens; ++t) {
          for (let r = 0; r < rows; ++r) {
            let ref = 0;
            let mag = 0;
            for (let k = 0; k < cols; ++k) {
              ref += deq[r * cols + k] * x[t * cols + k];
              mag += Math.abs(deq[r * cols + k] * x[t * cols + k]);
            }
            // Error relative to the sum of |terms|: F32 accumulation of 512 terms.
            worst = Math.max(worst, Math.abs(y[t * rows + r] - ref) / (mag || 1));
          }
        }
      }
      return worst;
    }, type, typeId);
    console.log(`# ${type}: max |gpu - ref| / sum|terms| = ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-5, `${type}: relative error ${worst}`);
  });
}

// Decodes `ids` on the GPU engine: the first `prefix` at once (the matrix-matrix kernels, with
// a partial second tile of 8), then one by one (matrix-vector), returning for each position
// from prefix-1 on the top-10 [id, logit], mean and std. Also the smoke test against the wasm
// engine on the first tokens.
function runModel(name, ids, prefix) {
  return page.evaluate(async (name, ids, prefix) => {
    const wasm = await window.loadModel(name);
    const gpu = await window.gpu.createWebGpuEngine(wasm, { allowSoftwareAdapter: true });
    const summarize = (logits) => {
      const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, 10);
      let sum = 0;
      for (const v of logits) sum += v;
      const mean = sum / logits.length;
      let sq = 0;
      for (const v of logits) sq += (v - mean) * (v - mean);
      return { top: order.map((id) => [id, logits[id]]), mean, std: Math.sqrt(sq / logits.length) };
    };
    const positions = [];
    positions.push(summarize(await gpu.decode(Int32Array.from(ids.slice(0, prefix)))));
    for (let p = prefix; p < ids.length; ++p) {
      positions.push(summarize(await gpu.decode(Int32Array.of(ids[p]))));
    }
    const smoke = await window.gpu.smokeTest(wasm, gpu, Int32Array.from(ids.slice(0, 6)));
    gpu.free();
    wasm.free();
    return { positions, smoke };
  }, name, ids, prefix);
}

const PREFIX = 10;

// fixtures/README.md's rules for MODEL.json / MODEL.exact.json: each compared logit within
// tol*std of either file; the argmax where both files agree with a clear lead.
for (const name of ["tiny-llama3-q8_0", "tiny-qwen2-q4_0", "tiny-qwen2-q8_0", "tiny-llama-spm-f16",
                    "tiny-llama-spm-q4_0", "tiny-llama-spm-q4_k_m", "tiny-phi3-q4_k_m"]) {
  test(`${name}: WebGPU logits match the reference, and the smoke test passes`, async () => {
    const tol = readJson("tolerances.json")[name];
    const files = [readJson(`${name}.json`), readJson(`${name}.exact.json`)];
    const ids = files[0].teacher.ids;
    const { positions, smoke } = await runModel(name, ids, PREFIX);
    let worst = 0;
    let compared = 0;
    positions.forEach((got, i) => {
      const r = checkTeacherPosition(files, PREFIX - 1 + i, got, tol);
      worst = Math.max(worst, r.worst);
      compared += r.compared;
    });
    assert.ok(compared > positions.length, "some logits were compared");
    assert.equal(smoke.ok, true, smoke.reason);
    console.log(`# ${name}: ${positions.length} positions (${PREFIX} at once, then one by one), ` +
                `${compared} logits, max |diff|/std ${worst.toFixed(4)} (tol ${tol}); ` +
                `smoke test vs wasm max ${smoke.maxRelDiff.toFixed(4)}`);
  });
}

// qwen3 and gemma3 have only a log-probability reference (*.nlc.json): compare relative to the
// top-1. gemma3: scaled embedding, GeGLU, post norms, 5 sliding-window layers (window 12, so
// most positions here see a cut window) with their own RoPE base, and a global one.
for (const name of ["tiny-qwen3-f16", "tiny-gemma3-f16"]) {
  test(`${name}: WebGPU logits match the nlc reference, and the smoke test passes`, async () => {
    const ref = readJson(`${name}.nlc.json`);
    const tol = readJson("tolerances-nlc.json")[name];
    const ids = ref.teacher.ids;
    const { positions, smoke } = await runModel(name, ids, PREFIX);
    let worst = 0;
    positions.forEach((got, i) => {
      const p = PREFIX - 1 + i;
      const pos = ref.teacher.positions[p];
      const ranked = new Map(got.top);
      const gotTop = got.top[0][1];
      const refTop = pos.top[0][1];
      for (const [id, logprob] of pos.top) {
        if (!ranked.has(id)) continue;
        const diff = Math.abs((ranked.get(id) - gotTop) - (logprob - refTop)) / pos.std;
        worst = Math.max(worst, diff);
        assert.ok(diff <= tol, `position ${p} id ${id}: ${diff} > tol ${tol}`);
      }
      if (pos.top[0][1] - pos.top[1][1] > tol * pos.std) assert.equal(got.top[0][0], pos.top[0][0], `position ${p}: top-1`);
    });
    assert.equal(smoke.ok, true, smoke.reason);
    console.log(`# ${name}: ${positions.length} positions, max relative |diff|/std ${worst.toFixed(4)} ` +
                `(tol ${tol}); smoke test vs wasm max ${smoke.maxRelDiff.toFixed(4)}`);
  });
}

describe("refusals and the smoke test's failures", () => {
  test("a perturbed matmul kernel fails the smoke test, auto falls back to wasm, and declines SwiftShader by default", async () => {
    const result = await page.evaluate(async () => {
      const wasm = await window.loadModel("tiny-qwen2-q8_0");
      const ids = wasm.tokenize("Hello there, how are you?", true, false);
      const bad = await window.gpu.createWebGpuEngine(wasm, { allowSoftwareAdapter: true, perturbMatmul: 0.5 });
      const smoke = await window.gpu.smokeTest(wasm, bad, ids);
      bad.free();
      const soft = { allowSoftwareAdapter: true };  // SwiftShader is all there is here
      const auto = await window.gpu.createAutoEngine(wasm, { ...soft, perturbMatmul: 0.5 });
      const good = await window.gpu.createAutoEngine(wasm, soft);
      const declined = await window.gpu.createAutoEngine(wasm);
      good.engine.free?.call(good.engine);
      wasm.free();
      return { smoke, autoBackend: auto.backend, autoReason: auto.reason, goodBackend: good.backend,
               goodReason: good.reason, declined: [declined.backend, declined.reason] };
    });
    assert.equal(result.smoke.ok, false);
    assert.match(result.smoke.reason, /^WebGPU and wasm disagree at position \d+: /);
    assert.equal(result.autoBackend, "wasm");
    assert.match(result.autoReason, /^WebGPU smoke test failed: WebGPU and wasm disagree/);
    assert.equal(result.goodBackend, "webgpu", result.goodReason);
    // Without allowSoftwareAdapter, auto declines SwiftShader before building anything.
    assert.deepEqual(result.declined, ["wasm", "WebGPU unavailable: the adapter (google swiftshader) " +
      "is a software rasterizer, slower than wasm (allowSoftwareAdapter: true uses it anyway)"]);
    console.log(`# perturbed: ${result.smoke.reason}`);
  });

  test("decoding in batches of maxBatch gives the logits of one batch; bad input leaves the cache", async () => {
    const diff = await page.evaluate(async () => {
      const wasm = await window.loadModel("tiny-llama-spm-q4_0");
      const ids = wasm.tokenize("Once upon a time there was a little dog who", true, false);
      const whole = await window.gpu.createWebGpuEngine(wasm, { allowSoftwareAdapter: true });
      const chunked = await window.gpu.createWebGpuEngine(wasm, { allowSoftwareAdapter: true, maxBatch: 3 });
      const a = await whole.decode(ids);
      const b = await chunked.decode(ids);
      const c = window.gpu.compareLogits(a, b);
      // Bad input is an Error, and the cache stays as it was.
      const errors = [];
      for (const bad of [Int32Array.of(wasm.info.nVocab + 5), new Int32Array(wasm.info.nCtx)]) {
        try {
          await whole.decode(bad);
          errors.push("no error");
        } catch (e) {
          errors.push(e.message);
        }
      }
      const nPastAfterErrors = whole.nPast;
      whole.free();
      chunked.free();
      wasm.free();
      return { n: ids.length, nPast: chunked.nPast, maxRelDiff: c.maxRelDiff, errors, nPastAfterErrors };
    });
    assert.ok(diff.n > 6, `${diff.n} ids`);
    assert.equal(diff.nPast, diff.n);
    assert.ok(diff.maxRelDiff < 1e-4, `chunked vs whole: ${diff.maxRelDiff} std`);
    assert.match(diff.errors[0], /^token \d+ outside the vocabulary$/);
    assert.match(diff.errors[1], /^context full: \d+ \+ \d+ tokens > n_ctx \d+$/);
    assert.equal(diff.nPastAfterErrors, diff.n);
  });

  test("without an adapter, auto falls back to wasm and says so", async () => {
    const bare = await openWebGpuPage({ webgpu: false });
    try {
      assert.equal(bare.adapter.ok, false);
      const result = await bare.page.evaluate(async () => {
        const wasm = await window.loadModel("tiny-llama-spm-q4_0");
        const auto = await window.gpu.createAutoEngine(wasm);
        wasm.free();
        return [auto.backend, auto.reason];
      });
      assert.deepEqual(result, ["wasm", `WebGPU unavailable: ${bare.adapter.reason}`]);
      console.log(`# no adapter: ${result[1]}`);
    } finally {
      await bare.close();
    }
  });

});
