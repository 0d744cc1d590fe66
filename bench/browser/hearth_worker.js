// The benchmark's Web Worker for hearth-wasm: wasm/js/engine.js's WasmEngine (the engine the
// package's own worker runs) on one model, timed inside the worker, as llama-server's timings
// are timed inside wllama's worker. A classic worker, like wasm/js/worker.js: emscripten's
// factory is a classic script.
//
// Messages in:  { id, op: "load", url, nCtx, threads, wasmUrl, factoryUrl, engineUrl }
//                                                 (threads > 1: the hearth_wasm_mt build's URLs)
//               { id, op: "pp", ids }            one decode of `ids` into an empty context
//               { id, op: "tg", ids, n }         `ids` decoded, then n greedy tokens
//               { id, op: "tokenize", text }     with the model's BOS rule, specials parsed
//               { id, op: "heap" }               the wasm heap's size in bytes
// Messages out: { id, value } | { id, error }
let engine = null;
let module = null;

function argmax(logits) {
  let best = 0;
  for (let i = 1; i < logits.length; ++i) if (logits[i] > logits[best]) best = i;
  return best;
}

async function load({ url, nCtx, threads = 1, wasmUrl, factoryUrl, engineUrl }) {
  const wasm = await (await fetch(wasmUrl)).arrayBuffer();
  importScripts(factoryUrl);
  const { startModule, loadWasmEngine } = await import(engineUrl);
  module = await startModule(self.createHearthWasm, wasm, { threads, factoryUrl });
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  engine = await loadWasmEngine(module, bytes.length, async (write) => write(bytes, 0),
                                { nCtx, threads });
  if (engine.threads !== threads) {
    throw new Error(`asked for ${threads} threads, the session runs ${engine.threads}`);
  }
  return { nVocab: engine.info.nVocab, arch: engine.info.arch, threads: engine.threads };
}

// Prompt speed: the ids as one batch into an empty KV cache.
async function pp({ ids }) {
  engine.rewind(0);
  const start = performance.now();
  await engine.decode(ids);
  return { ms: performance.now() - start, n: ids.length };
}

// Generation speed, counted the way llama-server (wllama) counts `predicted_ms`: the clock
// starts when the prompt's logits are there; the first token is sampled from them, each later
// one needs a decode, so n tokens take n - 1 decodes plus n greedy picks.
async function tg({ ids, n }) {
  engine.rewind(0);
  let logits = await engine.decode(ids);
  const start = performance.now();
  const tokens = [];
  for (let i = 0; i < n; ++i) {
    const token = argmax(logits);
    tokens.push(token);
    if (i + 1 < n) logits = await engine.decode([token]);
  }
  const ms = performance.now() - start;
  const pieces = tokens.map((t) => engine.tokenPiece(t));
  const text = new TextDecoder().decode(concat(pieces));
  return { ms, n, tokens, text };
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const ops = {
  load,
  pp,
  tg,
  tokenize: async ({ text }) => Array.from(engine.tokenize(text, true, true)),
  heap: async () => module.HEAPU8.length,
};

self.onmessage = async (e) => {
  const { id, op } = e.data;
  try {
    postMessage({ id, value: await ops[op](e.data) });
  } catch (err) {
    postMessage({ id, error: String(err?.stack ?? err) });
  }
};
