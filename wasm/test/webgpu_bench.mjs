// Speed of the WebGPU engine against the wasm engine in the same chromium page, like
// `hearth bench`: one decode of P prompt ids (pp), then N single-token decodes (tg); one
// warm-up, then the mean of R repetitions. On SwiftShader (the CPU rasterizer the tests use)
// the GPU figures say nothing about a real GPU: they are for noticing regressions.
//
// Run: node wasm/test/webgpu_bench.mjs [-p 32] [-n 16] [-r 3] MODEL... (fixture model names)
import { openWebGpuPage } from "./webgpu_page.mjs";

const args = process.argv.slice(2);
const option = (flag, fallback) => {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const [, value] = args.splice(i, 2);
  return Number(value);
};
const nPrompt = option("-p", 32);
const nGen = option("-n", 16);
const reps = option("-r", 3);
const models = args.length ? args : ["tiny-llama-spm-q4_0"];

const session = await openWebGpuPage();
try {
  console.log(`adapter: ${JSON.stringify(session.adapter.adapterInfo)}`);
  console.log("| model | engine | pp" + nPrompt + " tokens/s | tg" + nGen + " tokens/s |");
  console.log("|---|---|---|---|");
  for (const name of models) {
    const rows = await session.page.evaluate(async (name, nPrompt, nGen, reps) => {
      const wasm = await window.loadModel(name);
      const gpu = await window.gpu.createWebGpuEngine(wasm, { allowSoftwareAdapter: true });
      // Fixed, spread-out ids inside the vocabulary (the content does not change the work).
      const ids = Int32Array.from({ length: nPrompt + nGen },
                                  (_, i) => (i * 7919 + 13) % wasm.info.nVocab);
      const run = async (engine) => {
        engine.rewind(0);
        let t = performance.now();
        await engine.decode(ids.subarray(0, nPrompt));
        const pp = performance.now() - t;
        t = performance.now();
        for (let i = 0; i < nGen; ++i) await engine.decode(ids.subarray(nPrompt + i, nPrompt + i + 1));
        return [pp, performance.now() - t];
      };
      const out = [];
      for (const [label, engine] of [["wasm", wasm], ["webgpu", gpu]]) {
        await run(engine);  // warm-up (shader compilation, caches)
        let pp = 0;
        let tg = 0;
        for (let r = 0; r < reps; ++r) {
          const [a, b] = await run(engine);
          pp += a;
          tg += b;
        }
        out.push([label, (nPrompt * reps * 1000) / pp, (nGen * reps * 1000) / tg]);
      }
      gpu.free();
      wasm.free();
      return out;
    }, name, nPrompt, nGen, reps);
    for (const [label, pp, tg] of rows) {
      console.log(`| ${name} | ${label === "webgpu" ? "webgpu (SwiftShader)" : "wasm"} | ` +
                  `${pp.toFixed(1)} | ${tg.toFixed(1)} |`);
    }
  }
} finally {
  await session.close();
}
