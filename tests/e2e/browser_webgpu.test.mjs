// The JS package's WebGPU backend as a page uses it: hearth serve, Debian's headless chromium
// with WebGPU on (SwiftShader's software adapter, the only one without a GPU), and
// Hearth.create on the cross-origin isolated /browser page, so the model runs in the package's
// Web Worker (worker.js -> runner.js -> webgpu.js). With allowSoftwareAdapter the worker's
// engine is the WebGPU one, its smoke test against the wasm engine passed, and its greedy
// tokens follow the shared references; "auto" without the option declines SwiftShader and says
// so in backendReport, and a deliberately wrong kernel fails the smoke test in the worker.
// SwiftShader is slow: one small model (tiny-qwen2-q8_0, which runs both
// the matrix-matrix kernels on the prompt and the matrix-vector ones after it).
//
// Needs the wasm build, as browser_engine.test.mjs does (skipped with the reason when
// emscripten is not installed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { model, startServer } from './harness.mjs';
import { launchBrowser, openPage } from './browser.mjs';
import { haveBuild, skipReason, wasmDir } from './wasm_build.mjs';
import { checkGreedy, readJson } from './references.mjs';

const skip = skipReason;
if (skip) console.log(`# browser_webgpu.test.mjs skipped: ${skip}`);

let server;
let browser;
before(async () => {
  if (skip) return;
  assert.ok(haveBuild, `no wasm build in ${wasmDir}: run make test-wasm first`);
  server = await startServer(['-m', model('tiny-qwen2-q8_0.gguf'), '--alias', 'qwen',
    '--wasm-dir', wasmDir]);
  browser = await launchBrowser({ webgpu: true });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// Hearth.create(options) on the /browser page (the model is the server's qwen); the instance
// stays in window.testHearth. Returns its backendReport, or { error } when create throws.
async function createOnPage(page, options) {
  return page.evaluate(async (opts) => {
    const { Hearth } = await import('/hearth.js');
    try {
      window.testHearth = await Hearth.create({ model: '/v1/models/qwen/file', ...opts });
      return window.testHearth.backendReport;
    } catch (e) {
      return { error: String(e.message ?? e) };
    }
  }, options);
}

test('backend webgpu with allowSoftwareAdapter runs tiny-qwen2 in the worker on SwiftShader, as the references say',
  { skip, timeout: 600000 }, async () => {
    const page = await openPage(browser, server.baseURL, '/browser');
    page.setDefaultTimeout(300000);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
    const report = await createOnPage(page, { backend: 'webgpu', allowSoftwareAdapter: true });
    assert.equal(report.error, undefined, `Hearth.create failed: ${report.error}`);
    assert.equal(report.backend, 'webgpu', report.reason);
    assert.match(report.reason, /^WebGPU passed its smoke test/);
    assert.equal(report.smokeTest.ok, true);
    assert.ok(report.smokeTest.positions.length >= 1);
    console.log(`# smoke test in the worker: max |diff|/std ${report.smokeTest.maxRelDiff.toFixed(4)}`);

    // The greedy continuation on the GPU engine (the prompt in one pass, then one token at a
    // time), with each step's std from a teacher pass over prompt + output, also on the GPU.
    const ref = readJson('tiny-qwen2-q8_0.json');
    const steps = 8;
    const greedy = await page.evaluate((ids, n) => window.testHearth.greedy(ids, n),
      ref.greedy.prompt_ids, steps);
    const stats = await page.evaluate((ids) => window.testHearth.teacherForced(ids),
      [...ref.greedy.prompt_ids, ...greedy.slice(0, -1)]);
    checkGreedy('tiny-qwen2-q8_0', greedy, stats.slice(ref.greedy.prompt_ids.length - 1).map((s) => s.std));
    console.log(`# webgpu greedy ${greedy.join(' ')}; reference ${ref.greedy.generated_ids.slice(0, steps).join(' ')}`);

    // A chat through the worker on the GPU engine, and the report's tokens per second.
    const reply = await page.evaluate(async () => {
      const r = await window.testHearth.chat.completions.create({
        messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 });
      return { usage: r.usage, report: window.testHearth.backendReport };
    });
    assert.equal(reply.usage.completion_tokens > 0, true);
    assert.equal(reply.report.backend, 'webgpu');
    assert.ok(reply.report.tokensPerSecond.generation > 0);
    await page.evaluate(() => window.testHearth.unload());
    assert.deepEqual(page.errors, []);
    await page.close();
  });

test('auto without allowSoftwareAdapter falls back to wasm and says SwiftShader is why; a wrong kernel fails the smoke test',
  { skip }, async () => {
    const page = await openPage(browser, server.baseURL, '/browser');
    const report = await createOnPage(page, { backend: 'auto' });
    assert.equal(report.error, undefined, `Hearth.create failed: ${report.error}`);
    assert.equal(report.backend, 'wasm');
    assert.match(report.reason, /^auto: fell back to wasm because WebGPU could not start: the adapter \(.*\) is a software rasterizer, slower than wasm \(allowSoftwareAdapter: true uses it anyway\)$/);
    // And "webgpu" without the option is an error with the same reason, not a silent wasm.
    const refused = await createOnPage(page, { backend: 'webgpu' });
    assert.match(refused.error ?? '', /^the webgpu backend is unavailable: WebGPU could not start: .* software rasterizer/);
    await page.evaluate(() => window.testHearth.unload());
    // With SwiftShader allowed but a deliberately wrong matmul kernel (webgpu.js's
    // perturbMatmul, passed through the worker), the smoke test in the worker catches it.
    const perturbed = await createOnPage(page, { backend: 'auto', allowSoftwareAdapter: true, perturbMatmul: 0.5 });
    assert.equal(perturbed.backend, 'wasm', perturbed.error);
    assert.match(perturbed.reason, /^auto: fell back to wasm because the WebGPU smoke test failed: WebGPU and wasm disagree at position \d+/);
    assert.equal(perturbed.smokeTest.ok, false);
    await page.evaluate(() => window.testHearth.unload());
    await page.close();
  });
