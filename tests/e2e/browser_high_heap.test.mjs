// The wasm heap above 2 GiB in chromium (docs/wasm.md, "Memory"): on a page of hearth serve
// (cross-origin isolated, so the threaded build's shared memory is allowed), each build of the
// module keeps about 2.1 GiB of its heap allocated, then the package's engine.js loads
// stories260K into the heap above that and its greedy story must be exactly the reference's.
// The reserve is never written, so it costs the renderer address space, not memory.
//
// Needs the wasm build, as browser_engine.test.mjs does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { model, startServer } from './harness.mjs';
import { launchBrowser, openPage } from './browser.mjs';
import { haveBuild, skipReason, wasmDir } from './wasm_build.mjs';
import { readJson } from './references.mjs';

const skip = skipReason;
if (skip) console.log(`# browser_high_heap.test.mjs skipped: ${skip}`);

let server;
let browser;
before(async () => {
  if (skip) return;
  assert.ok(haveBuild, `no wasm build in ${wasmDir}: run make test-wasm first`);
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--wasm-dir', wasmDir]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// Runs in the page: starts `build`, reserves the heap's first ~2.1 GiB, loads the model
// through engine.js and generates `steps` greedy tokens after `prompt`.
async function greedyAboveTwoGiB(build, prompt, steps) {
  await new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = `/${build}.js`;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`cannot load /${build}.js`));
    document.head.append(script);
  });
  const { startModule, loadWasmEngine } = await import('/engine.js');
  const wasmBinary = await (await fetch(`/${build}.wasm`)).arrayBuffer();
  const m = await startModule(self.createHearthWasm, wasmBinary,
    { threads: 1, factoryUrl: new URL(`/${build}.js`, location.href).href });
  const reserved = [];
  for (let i = 0; i < 3; ++i) reserved.push(m._malloc(720 * 2 ** 20) >>> 0);
  if (reserved.includes(0)) throw new Error(`${build}: could not reserve 3 x 720 MiB`);
  const bytes = new Uint8Array(await (await fetch('/v1/models/stories/file')).arrayBuffer());
  const engine = await loadWasmEngine(m, bytes.length, async (write) => write(bytes, 0));
  const desc = JSON.parse(m.UTF8ToString(m._hearth_model_desc(engine.h) >>> 0));
  const lowestTensor = Math.min(...desc.tensors.map((t) => t.ptr));
  let logits = await engine.decode(Int32Array.from(prompt));
  const logitsAt = m._hearth_logits(engine.h, -1) >>> 0;
  const tokens = [];
  for (let step = 0; step < steps; ++step) {
    let best = 0;
    for (let i = 1; i < logits.length; ++i) if (logits[i] > logits[best]) best = i;
    tokens.push(best);
    if (step + 1 < steps) logits = await engine.decode(Int32Array.of(best));
  }
  m.hearthSyncHeap?.();
  const heapBytes = m.HEAPU8.length;
  engine.free();
  m.hearthTerminateThreads?.();
  return { tokens, lowestTensor, logitsAt, heapBytes, isolated: self.crossOriginIsolated };
}

for (const build of ['hearth_wasm', 'hearth_wasm_mt']) {
  test(`${build}: stories260K above 2 GiB gives the reference's greedy story`, { skip }, async () => {
    const ref = readJson('stories260K.json');
    const page = await openPage(browser, server.baseURL, '/');
    try {
      const got = await page.evaluate(greedyAboveTwoGiB, build, ref.greedy.prompt_ids,
                                      ref.greedy.generated_ids.length);
      console.log(`# ${build}: heap ${got.heapBytes} bytes, tensors from ${got.lowestTensor}, ` +
                  `logits at ${got.logitsAt}`);
      assert.ok(got.isolated, 'the page is cross-origin isolated');
      assert.ok(got.lowestTensor >= 2 ** 31, `a tensor at ${got.lowestTensor}`);
      assert.ok(got.logitsAt >= 2 ** 31, `the logits at ${got.logitsAt}`);
      assert.deepEqual(got.tokens, ref.greedy.generated_ids);
    } finally {
      await page.close();
    }
  });
}
