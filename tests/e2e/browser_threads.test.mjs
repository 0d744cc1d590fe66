// Threads in the browser (docs/wasm.md, "Threads"): on hearth serve's /browser, which is
// cross-origin isolated, the package's worker runs the threaded build (hearth_wasm_mt, its
// pthreads in nested Web Workers) with more than one thread, and stories260K (real weights)
// gives exactly the reference's greedy story with 1 and with 2 threads. The same page through
// a proxy that drops COOP/COEP is not isolated, so it runs the single-threaded build and says
// why. Screenshots go to build/screenshots/.
//
// Needs the wasm build, as browser_engine.test.mjs does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { model, startServer } from './harness.mjs';
import { launchBrowser, openPage, screenshots as shots } from './browser.mjs';
import { haveBuild, skipReason, wasmDir } from './wasm_build.mjs';
import { checkTeacher, readJson } from './references.mjs';

const skip = skipReason;
if (skip) console.log(`# browser_threads.test.mjs skipped: ${skip}`);

let server;
let proxy;
let browser;
before(async () => {
  if (skip) return;
  assert.ok(haveBuild, `no wasm build in ${wasmDir}: run make test-wasm first`);
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--wasm-dir', wasmDir]);
  proxy = await startUnisolatedProxy(new URL(server.baseURL));
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  proxy?.server.close();
  await server?.stop();
});

// A plain HTTP proxy to hearth serve that drops the two headers that make a page cross-origin
// isolated; everything else (the app, the package, the model file with its ranges) passes.
async function startUnisolatedProxy(target) {
  const server = http.createServer((req, res) => {
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url,
                                    method: req.method, headers: req.headers }, (up) => {
      const headers = { ...up.headers };
      delete headers['cross-origin-opener-policy'];
      delete headers['cross-origin-embedder-policy'];
      res.writeHead(up.statusCode, headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, baseURL: `http://127.0.0.1:${server.address().port}` };
}

// /browser?model=stories on `baseURL`, ready; returns the page and its backendReport.
async function loadOnPage(baseURL) {
  const page = await openPage(browser, baseURL, '/browser?model=stories');
  await page.waitForSelector('body[data-browser-state="ready"], body[data-browser-state="failed"]',
    { timeout: 120000 });
  const errors = await page.$$eval('.message.error .body', (n) => n.map((e) => e.textContent));
  assert.equal(await page.evaluate(() => document.body.dataset.browserState), 'ready', errors.join('; '));
  return { page, report: await page.evaluate(() => window.hearthBrowser.hearth.backendReport) };
}

// The reference's teacher-forced logits and greedy story through a loaded Hearth: the page's
// own ('page') or the one a test created (window.testHearth).
async function checkStories(page, which) {
  const ref = readJson('stories260K.json');
  const call = (method, ...args) => page.evaluate((w, m, a) =>
    (w === 'page' ? window.hearthBrowser.hearth : window.testHearth)[m](...a), which, method, args);
  const positions = await call('teacherForced', ref.teacher.ids);
  const { worst, tol } = checkTeacher('stories260K', positions);
  const greedy = await call('greedy', ref.greedy.prompt_ids, ref.greedy.generated_ids.length);
  assert.deepEqual(greedy, ref.greedy.generated_ids);
  return `${worst.toFixed(4)} (tol ${tol})`;
}

test('an isolated /browser runs the threaded build on more than one thread, as the references say',
  { skip }, async () => {
    const { page, report } = await loadOnPage(server.baseURL);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.ok(cores >= 2, `chromium reports ${cores} core(s): nothing to thread`);
    assert.equal(report.wasm.build, 'hearth_wasm_mt', report.wasm.reason);
    assert.equal(report.wasm.threads, Math.min(cores, 4));
    assert.match(report.wasm.reason, /^cross-origin isolated: \d+ threads/);
    assert.match(await page.$eval('#browser-threads', (n) => n.textContent), /^\d+ threads \(cross-origin isolated/);
    console.log(`# /browser threaded (${report.wasm.threads} threads): stories260K max |diff|/std ` +
                await checkStories(page, 'page'));

    // Explicit counts on the same page: 1 thread (the single-threaded build) and 2 threads give
    // the same story.
    for (const threads of [1, 2]) {
      const got = await page.evaluate(async (n) => {
        const { Hearth } = await import('/hearth.js');
        window.testHearth = await Hearth.create({ model: '/v1/models/stories/file', backend: 'wasm', threads: n });
        return window.testHearth.backendReport.wasm;
      }, threads);
      assert.deepEqual(got, { build: threads === 1 ? 'hearth_wasm' : 'hearth_wasm_mt', threads,
                              reason: threads === 1 ? 'asked for 1 thread' : 'asked for 2 threads' });
      await checkStories(page, 'test');
      await page.evaluate(() => window.testHearth.unload());
    }
    await page.screenshot({ path: path.join(shots, 'browser-threads.png') });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

test('a page that is not cross-origin isolated runs the single-threaded build and says why',
  { skip }, async () => {
    const { page, report } = await loadOnPage(proxy.baseURL);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
    assert.deepEqual({ build: report.wasm.build, threads: report.wasm.threads },
                     { build: 'hearth_wasm', threads: 1 });
    assert.match(report.wasm.reason, /not cross-origin isolated/);
    console.log(`# /browser not isolated: stories260K max |diff|/std ` +
                await checkStories(page, 'page'));
    await page.screenshot({ path: path.join(shots, 'browser-not-isolated.png') });
    assert.deepEqual(page.errors, []);
    await page.close();
  });
