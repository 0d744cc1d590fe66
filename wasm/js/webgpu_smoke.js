// The WebGPU path's smoke test and the `auto` choice between WebGPU and wasm (docs/webgpu.md).
// Before the GPU engine is trusted, the first tokens' logits are computed on both engines and
// compared; any disagreement keeps the wasm engine and says why.
import { createWebGpuEngine } from "./webgpu.js";

// Default tolerance, as a fraction of the wasm logits' standard deviation at each position.
// The two paths differ by design on quantized models: the wasm kernels quantize activations
// to 8 bits before quantized dot products, the shaders compute with F32 activations. The
// fixtures' two reference files differ in exactly that way by up to 0.11 std (their
// tolerances are 1.5x that, 0.02..0.16), so 0.2 leaves room for that difference and nothing
// for a wrong kernel, which moves logits by a large fraction of their spread.
export const SMOKE_TOLERANCE = 0.2;

function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; ++i) if (v[i] > v[best]) best = i;
  return best;
}

// How far `got` is from `ref` (both one position's logits): for each of ref's top-k ids, the
// difference of its logit relative to ref's top-1 id in each vector, divided by ref's
// standard deviation (the style of the fixtures' tolerances). Also whether the top-1 ids agree
// and ref's lead of its top-1 over its top-2 (in std units).
export function compareLogits(ref, got, topK = 10) {
  if (got.length !== ref.length) return { error: `${got.length} logits, expected ${ref.length}` };
  for (let i = 0; i < got.length; ++i) {
    if (!Number.isFinite(got[i])) return { error: `logit ${i} is ${got[i]}` };
  }
  let sum = 0;
  for (const v of ref) sum += v;
  const mean = sum / ref.length;
  let sq = 0;
  for (const v of ref) sq += (v - mean) * (v - mean);
  const std = Math.sqrt(sq / ref.length) || 1;
  const order = Array.from(ref.keys()).sort((a, b) => ref[b] - ref[a]).slice(0, topK);
  const top = order[0];
  let maxRelDiff = 0;
  let worstId = top;
  for (const id of order) {
    const diff = Math.abs((got[id] - got[top]) - (ref[id] - ref[top])) / std;
    if (diff > maxRelDiff) {
      maxRelDiff = diff;
      worstId = id;
    }
  }
  return { maxRelDiff, worstId, std, refTop1: top, gotTop1: argmax(got),
           lead: (ref[order[0]] - ref[order[1]]) / std };
}

// Decodes promptIds, then `steps` more tokens (wasm's argmax each time, fed to both), on both
// engines from an empty context, and compares each position's logits. Returns { ok, reason,
// maxRelDiff, positions }. Both engines are rewound to an empty context afterwards.
export async function smokeTest(wasmEngine, gpuEngine, promptIds,
                                { tolerance = SMOKE_TOLERANCE, steps = 2 } = {}) {
  let maxRelDiff = 0;
  const positions = [];
  wasmEngine.rewind(0);
  gpuEngine.rewind(0);
  try {
    let ids = Int32Array.from(promptIds);
    for (let step = 0; step <= steps; ++step) {
      const position = wasmEngine.nPast + ids.length - 1;
      const ref = await wasmEngine.decode(ids);
      let got;
      try {
        got = await gpuEngine.decode(ids);
      } catch (e) {
        return { ok: false, reason: `WebGPU decode failed at position ${position}: ${e.message}`,
                 maxRelDiff, positions };
      }
      const c = compareLogits(ref, got);
      if (c.error) {
        return { ok: false, reason: `WebGPU logits at position ${position}: ${c.error}`,
                 maxRelDiff: NaN, positions };
      }
      maxRelDiff = Math.max(maxRelDiff, c.maxRelDiff);
      positions.push({ position, maxRelDiff: c.maxRelDiff });
      if (c.maxRelDiff > tolerance) {
        return { ok: false, maxRelDiff, positions, reason:
          `WebGPU and wasm disagree at position ${position}: token ${c.worstId}'s logit ` +
          `relative to the top-1 differs by ${c.maxRelDiff.toFixed(4)} std ` +
          `(tolerance ${tolerance})` };
      }
      if (c.gotTop1 !== c.refTop1 && c.lead > tolerance) {
        return { ok: false, maxRelDiff, positions, reason:
          `WebGPU and wasm disagree at position ${position}: top-1 token ${c.gotTop1} on ` +
          `WebGPU, ${c.refTop1} on wasm (lead ${c.lead.toFixed(4)} std)` };
      }
      ids = Int32Array.of(c.refTop1);
    }
    return { ok: true, reason: "", maxRelDiff, positions };
  } finally {
    wasmEngine.rewind(0);
    gpuEngine.rewind(0);
  }
}

// `auto`: the WebGPU engine when it can be built and passes the smoke test on `promptIds`
// (default: the tokens of a short English text), else the wasm engine with the reason.
// A software adapter (SwiftShader, or one the browser flags as a fallback) is declined by
// createWebGpuEngine unless options.allowSoftwareAdapter. Returns { engine, backend: "webgpu" | "wasm", reason, smoke }.
export async function createAutoEngine(wasmEngine, options = {}) {
  let gpu;
  try {
    gpu = await createWebGpuEngine(wasmEngine, options);
  } catch (e) {
    return { engine: wasmEngine, backend: "wasm", reason: `WebGPU unavailable: ${e.message}`,
             smoke: null };
  }
  const promptIds = options.promptIds ??
    wasmEngine.tokenize("The quick brown fox jumps over the lazy dog.", true, false);
  const smoke = await smokeTest(wasmEngine, gpu, promptIds, options);
  if (smoke.ok) return { engine: gpu, backend: "webgpu", reason: "", smoke };
  gpu.free();
  return { engine: wasmEngine, backend: "wasm", reason: `WebGPU smoke test failed: ${smoke.reason}`,
           smoke };
}
