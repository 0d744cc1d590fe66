// A model running in this thread: the WASM engine, or the WebGPU one when it is asked for and
// passes its smoke test, with the shared generation loop. The Web Worker (worker.js) hosts one
// in the browser; Node (tests) uses one directly, without a worker or OPFS.
import { loadWasmEngine, startModule } from "./engine.js";
import { Generator } from "./generate.js";
import { openModelSource } from "./model_store.js";

// Chooses the engine for `backend` ("wasm" | "webgpu" | "auto"). Returns { engine, reason,
// smoke }. An explicit "webgpu" that cannot run throws with the reason.
async function chooseEngine(backend, wasmEngine, generator, options) {
  if (backend === "wasm") return { engine: wasmEngine, reason: "asked for the wasm backend" };
  let gpuModule;
  try {
    gpuModule = await import("./webgpu.js");
  } catch (e) {
    return fallBack(backend, wasmEngine, `no WebGPU engine in this build (${e.message})`);
  }
  if (typeof navigator === "undefined" || !navigator.gpu) {
    return fallBack(backend, wasmEngine, "this browser has no WebGPU (navigator.gpu)");
  }
  let gpuEngine;
  try {
    gpuEngine = await gpuModule.createWebGpuEngine(wasmEngine, options);
  } catch (e) {
    return fallBack(backend, wasmEngine, `WebGPU could not start: ${e.message}`);
  }
  const promptIds = Int32Array.from(generator.promptIds([{ role: "user", content: "Hello" }]));
  let smoke;
  try {
    smoke = await gpuModule.smokeTest(wasmEngine, gpuEngine, promptIds);
  } catch (e) {
    smoke = { ok: false, reason: `the smoke test threw: ${e.message}`, maxRelDiff: NaN };
  }
  wasmEngine.rewind(0);
  if (!smoke.ok) {
    gpuEngine.free();
    return fallBack(backend, wasmEngine, `the WebGPU smoke test failed: ${smoke.reason}`, smoke);
  }
  gpuEngine.rewind(0);
  return { engine: gpuEngine, smoke, reason: "WebGPU passed its smoke test (logits within " +
           `${smoke.maxRelDiff.toFixed(4)} std of the wasm engine's)` };
}

function fallBack(backend, wasmEngine, why, smoke) {
  if (backend === "webgpu") throw new Error(`the webgpu backend is unavailable: ${why}`);
  return { engine: wasmEngine, reason: `auto: fell back to wasm because ${why}`, smoke };
}

export class Runner {
  // options: { model, backend, nCtx, kernels, threads, fetchImpl }; env: { factory,
  // wasmBinary, threads, factoryUrl, onProgress }: the module's factory and bytes (the threaded
  // build's when env.threads.threaded), and threads.js's choice ({ threaded, threads, reason }).
  static async create(options, { factory, wasmBinary, threads: choice, factoryUrl,
                                 onProgress = () => {} }) {
    choice ??= { threaded: false, threads: 1, reason: "single-threaded" };
    const backend = options.backend ?? "auto";
    if (!["auto", "wasm", "webgpu"].includes(backend)) {
      throw new Error(`backend must be "auto", "wasm", "webgpu" or "server", not ${backend}`);
    }
    const loadStart = Date.now();
    const module = await startModule(factory, wasmBinary, {
      kernels: options.kernels, threads: choice.threads, factoryUrl });
    let download;
    let wasmEngine;
    let source;
    try {
      source = await openModelSource(options.model, { onProgress, fetchImpl: options.fetchImpl });
      wasmEngine = await loadWasmEngine(module, source.size, async (write) => {
        download = await source.fill(write);
      }, { nCtx: options.nCtx ?? 0, threads: choice.threads });
    } catch (e) {
      module.hearthTerminateThreads?.();  // Node would wait on the pool's idle Workers
      throw e;
    }
    const runner = new Runner();
    runner.module = module;
    const generator = new Generator(wasmEngine);
    const chosen = await chooseEngine(backend, wasmEngine, generator, options);
    runner.wasmEngine = wasmEngine;
    runner.engine = chosen.engine;
    runner.generator = chosen.engine === wasmEngine ? generator : new Generator(chosen.engine);
    const info = wasmEngine.info;
    runner.report = {
      backend: chosen.engine === wasmEngine ? "wasm" : "webgpu",
      reason: chosen.reason,
      tokensPerSecond: { prompt: null, generation: null },
      smokeTest: chosen.smoke ?? null,
      // The wasm engine's build and threads (threads.js), whichever backend runs the model.
      wasm: { build: choice.threaded ? "hearth_wasm_mt" : "hearth_wasm",
              threads: wasmEngine.threads, reason: choice.reason },
      model: { arch: info.arch, name: info.name, nCtx: info.nCtx, nVocab: info.nVocab,
               bytes: source.size, sha256: source.expectedSha256 },
      download: { ...download, got: undefined, verified: undefined },
      loadMs: Date.now() - loadStart,
    };
    return runner;
  }

  // The generation events of generate.js; the report's tok/s follow the last reply.
  async *chat(request, signal) {
    for await (const event of this.generator.run(request, signal)) {
      if (event.type === "done") {
        this.report.tokensPerSecond = {
          prompt: event.timings.prompt_per_second,
          generation: event.timings.predicted_per_second,
        };
      }
      yield event;
    }
  }

  // Test hooks (the page's e2e test compares them with the shared references). Both reset
  // the KV cache before and after. teacherForced: for each position of `ids`, the top-10
  // [id, logit] after it and the mean and std of all logits there, decoding one id at a time
  // through the engine interface. greedy: the argmax continuation of `promptIds`.
  async teacherForced(ids) {
    this.#reset();
    const positions = [];
    for (const id of ids) positions.push(logitStats(await this.engine.decode(Int32Array.of(id))));
    this.#reset();
    return positions;
  }

  async greedy(promptIds, steps) {
    this.#reset();
    let logits = await this.engine.decode(Int32Array.from(promptIds));
    const out = [];
    for (let i = 0; i < steps; ++i) {
      const stats = logitStats(logits, 1);
      out.push(stats.top[0][0]);
      if (i + 1 < steps) logits = await this.engine.decode(Int32Array.of(stats.top[0][0]));
    }
    this.#reset();
    return out;
  }

  #reset() {
    this.engine.rewind(0);
    this.generator.cached = [];
  }

  tokenize(text, addSpecial = true, parseSpecial = true) {
    return Array.from(this.engine.tokenize(text, addSpecial, parseSpecial));
  }

  unload() {
    if (this.engine !== this.wasmEngine) this.engine?.free();
    this.wasmEngine?.free();
    // The thread pool's Workers ended with the session; the module's idle ones end here
    // (a browser would end them with this Web Worker; Node would wait on them forever).
    this.module?.hearthTerminateThreads?.();
    this.engine = this.wasmEngine = this.module = null;
  }
}

// The `k` best [id, logit] (best first, lower id on ties) and the logits' mean and std.
function logitStats(logits, k = 10) {
  const top = [];
  let sum = 0;
  for (let i = 0; i < logits.length; ++i) {
    const v = logits[i];
    sum += v;
    if (top.length < k || v > top[top.length - 1][1]) {
      let at = top.length;
      while (at > 0 && top[at - 1][1] < v) --at;
      top.splice(at, 0, [i, v]);
      if (top.length > k) top.pop();
    }
  }
  const mean = sum / logits.length;
  let sq = 0;
  for (const v of logits) sq += (v - mean) * (v - mean);
  return { top, mean, std: Math.sqrt(sq / logits.length) };
}
