// Tokens/s of the wasm build in node, measured the way `hearth bench` measures the native
// engine (src/cli/cmd_bench.cpp): prompt = one decode of P token ids from a fresh session;
// generation = N single-token decodes from a fresh session, each input derived from the last
// (token * 7919 + 13) % n_vocab. One warm-up pass, then the mean of R timed repetitions.
//
//   node wasm/test/bench.mjs [-p 128] [-n 128] [-r 5] MODEL.gguf...
// prints one line per model and kernel table (wasm_simd128, then scalar). Not a test.
import { readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";

import { createEngine } from "./engine.mjs";

const args = process.argv.slice(2);
const option = (flag, fallback) => {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  args.splice(i, 2);
  return value;
};
const nPrompt = option("-p", 128);
const nGen = option("-n", 128);
const reps = option("-r", 5);
if (args.length === 0) {
  console.error("usage: node wasm/test/bench.mjs [-p N] [-n N] [-r N] MODEL.gguf...");
  process.exit(2);
}

function promptIds(n, nVocab) {
  // Any valid ids do: a fixed linear congruential sequence, away from id 0.
  const ids = [];
  let x = 12345;
  for (let i = 0; i < n; ++i) {
    x = (x * 1103515245 + 12345) % 2147483648;
    ids.push(1 + (x % (nVocab - 1)));
  }
  return ids;
}

function mean(values) {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

// As hearth bench reports it: mean ± sample standard deviation.
function summary(values) {
  const m = mean(values);
  const sd = values.length > 1
    ? Math.sqrt(values.reduce((a, v) => a + (v - m) * (v - m), 0) / (values.length - 1))
    : 0;
  return `${m.toFixed(1)}±${sd.toFixed(1)}`;
}

for (const file of args) {
  const bytes = readFileSync(file);
  for (const kernels of ["wasm_simd128", "scalar"]) {
    const engine = await createEngine({ kernels });
    const h = engine.load(bytes);
    const nVocab = engine.nVocab(h);
    const prompt = promptIds(nPrompt, nVocab);
    const promptRates = [];
    const genRates = [];
    for (let rep = 0; rep <= reps; ++rep) {
      engine.rewind(h, 0);
      let start = performance.now();
      engine.decode(h, prompt);
      const promptSeconds = (performance.now() - start) / 1000;

      engine.rewind(h, 0);
      let token = 1;
      start = performance.now();
      for (let i = 0; i < nGen; ++i) {
        engine.decode(h, [token]);
        token = (token * 7919 + 13) % Math.max(2, nVocab);
      }
      const genSeconds = (performance.now() - start) / 1000;
      if (rep === 0) continue;  // warm-up
      promptRates.push(nPrompt / promptSeconds);
      genRates.push(nGen / genSeconds);
    }
    console.log(`${path.basename(file)} wasm ${kernels}: pp${nPrompt} ${summary(promptRates)} ` +
                `tg${nGen} ${summary(genRates)} tokens/s (${reps} repetitions)`);
    engine.free(h);
  }
}
