// Tokens/s of the wasm build in node, measured the way `hearth bench` measures the native
// engine (src/cli/cmd_bench.cpp): prompt = one decode of P token ids from a fresh session;
// generation = N single-token decodes from a fresh session, each input derived from the last
// (token * 7919 + 13) % n_vocab. One warm-up pass, then the mean of R timed repetitions.
//
//   node wasm/test/bench.mjs [-p 128] [-n 128] [-r 5] MODEL.gguf...
// prints one line per model and kernel table (wasm_simd128, then scalar; -k wasm_simd128 runs
// only that one, e.g. under node --cpu-prof). Not a test.
//   node wasm/test/bench.mjs -t 1,2 [-p 128] [-n 128] [-r 5] MODEL.gguf...
// runs the threaded build (hearth_wasm_mt) with the wasm_simd128 table once per thread count,
// the counts alternating per repetition (one module, one session per count), so that a
// shared machine's load falls on all of them alike.
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
let kernelTables = ["wasm_simd128", "scalar"];
{
  const i = args.indexOf("-k");
  if (i >= 0) {
    kernelTables = args[i + 1].split(",");
    args.splice(i, 2);
  }
}
let threadCounts = null;
{
  const i = args.indexOf("-t");
  if (i >= 0) {
    threadCounts = args[i + 1].split(",").map(Number);
    args.splice(i, 2);
    if (!threadCounts.every((t) => Number.isInteger(t) && t >= 1 && t <= 16)) {
      console.error("-t wants thread counts in [1, 16], e.g. -t 1,2");
      process.exit(2);
    }
  }
}
if (args.length === 0) {
  console.error("usage: node wasm/test/bench.mjs [-t 1,2] [-p N] [-n N] [-r N] MODEL.gguf...");
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

// One timed prompt pass and one timed generation run on a fresh KV cache: [pp, tg] tokens/s.
function measure(engine, h, prompt, nVocab) {
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
  return [prompt.length / promptSeconds, nGen / genSeconds];
}

if (threadCounts) {
  const maxThreads = Math.max(...threadCounts);
  for (const file of args) {
    const bytes = readFileSync(file);
    // A pool with room for every session's workers at once, plus a spare for load helpers.
    const poolSize = threadCounts.reduce((sum, t) => sum + t - 1, 1);
    const engine = await createEngine({ threads: Math.max(maxThreads, poolSize), threaded: true });
    // A context just big enough: each count's session holds its own copy of the model.
    const nCtx = Math.max(nPrompt, nGen) + 16;
    const handles = threadCounts.map((threads) => engine.load(bytes, { threads, nCtx }));
    const nVocab = engine.nVocab(handles[0]);
    const prompt = promptIds(nPrompt, nVocab);
    const rates = threadCounts.map(() => ({ pp: [], tg: [] }));
    for (let rep = 0; rep <= reps; ++rep) {
      handles.forEach((h, k) => {
        const [pp, tg] = measure(engine, h, prompt, nVocab);
        if (rep === 0) return;  // warm-up
        rates[k].pp.push(pp);
        rates[k].tg.push(tg);
      });
    }
    threadCounts.forEach((threads, k) => {
      console.log(`${path.basename(file)} ${engine.build} wasm_simd128 ${threads} thread(s): ` +
                  `pp${nPrompt} ${summary(rates[k].pp)} tg${nGen} ${summary(rates[k].tg)} tokens/s ` +
                  `(${reps} repetitions)`);
    });
    for (const h of handles) engine.free(h);
    engine.close();
  }
  process.exit(0);
}

for (const file of args) {
  const bytes = readFileSync(file);
  for (const kernels of kernelTables) {
    const engine = await createEngine({ kernels });
    const h = engine.load(bytes);
    const nVocab = engine.nVocab(h);
    const prompt = promptIds(nPrompt, nVocab);
    const promptRates = [];
    const genRates = [];
    for (let rep = 0; rep <= reps; ++rep) {
      const [pp, tg] = measure(engine, h, prompt, nVocab);
      if (rep === 0) continue;  // warm-up
      promptRates.push(pp);
      genRates.push(tg);
    }
    console.log(`${path.basename(file)} wasm ${kernels}: pp${nPrompt} ${summary(promptRates)} ` +
                `tg${nGen} ${summary(genRates)} tokens/s (${reps} repetitions)`);
    engine.free(h);
  }
}
