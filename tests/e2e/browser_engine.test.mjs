// The engine running in a real browser tab (docs/wasm.md): hearth serve on fixture models,
// Debian's chromium opens /browser?model=ID, the page is cross-origin isolated, Hearth loads
// the model into a Web Worker (the wasm backend; headless chromium has no WebGPU, so "auto"
// falls back and says why), and its logits and greedy tokens match the shared references
// with the rules of fixtures/README.md. The OPFS cache: a second load downloads nothing, a
// truncated entry resumes with Range, a corrupted one is caught by sha256 and fetched again.
// Also the page's chat, its report, and the switch to the server backend; screenshots go to
// build/screenshots/.
//
// Needs the wasm build (make test-wasm): without emscripten installed the test is skipped
// with the reason; with emscripten but no build it fails, so CI cannot skip it silently.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { model, startServer } from './harness.mjs';
import { axeCheck, launchBrowser, openPage, screenshots as shots } from './browser.mjs';
import { haveBuild, skipReason, wasmDir } from './wasm_build.mjs';
import { checkGreedy, checkTeacher, readJson } from './references.mjs';

const skip = skipReason;
if (skip) console.log(`# browser_engine.test.mjs skipped: ${skip}`);


let server;
let browser;
let page;
before(async () => {
  if (skip) return;
  assert.ok(haveBuild, `no wasm build in ${wasmDir}: run make test-wasm first`);
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '-m', model('tiny-qwen2-q8_0.gguf'), '--alias', 'qwen', '--wasm-dir', wasmDir]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// Opens /browser?model=ID and waits until the page says the model is ready (or failed).
async function loadOnPage(id) {
  page = await openPage(browser, server.baseURL, `/browser?model=${encodeURIComponent(id)}`);
  await page.waitForSelector('body[data-browser-state="ready"], body[data-browser-state="failed"]',
    { timeout: 120000 });
  const state = await page.evaluate(() => document.body.dataset.browserState);
  const errors = await page.$$eval('.message.error .body', (n) => n.map((e) => e.textContent));
  assert.equal(state, 'ready', `the page failed to load ${id}: ${errors.join('; ')}`);
  return page.evaluate(() => window.hearthBrowser.hearth.backendReport);
}

test('the page is cross-origin isolated and runs stories260K in a worker, as the references say',
  { skip }, async () => {
    const report = await loadOnPage('stories');
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
    assert.equal(report.backend, 'wasm');
    assert.match(report.reason, /^auto: fell back to wasm because /);
    assert.equal(report.download.cache, 'miss');
    assert.equal(report.download.bytesFetched, fs.statSync(model('stories260K.gguf')).size);

    const ref = readJson('stories260K.json');
    const positions = await page.evaluate((ids) => window.hearthBrowser.hearth.teacherForced(ids),
      ref.teacher.ids);
    const { worst, tol } = checkTeacher('stories260K', positions);
    console.log(`# stories260K in chromium: max |diff|/std ${worst.toFixed(4)} (tol ${tol})`);
    const steps = ref.greedy.generated_ids.length;
    const greedy = await page.evaluate((ids, n) => window.hearthBrowser.hearth.greedy(ids, n),
      ref.greedy.prompt_ids, steps);
    // Real weights: exactly the reference's story.
    assert.deepEqual(greedy, ref.greedy.generated_ids);

    // The page's chat: a reply streams in as text, the report shows tokens per second.
    await page.type('#browser-input', 'Once upon a time');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => {
      const bodies = document.querySelectorAll('#browser-messages .message.assistant .body');
      const last = bodies[bodies.length - 1];
      return last && last.textContent.length > 0 && !last.parentElement.hasAttribute('aria-busy');
    }, { timeout: 60000 });
    const tps = await page.$eval('#browser-tps-generation', (n) => n.textContent);
    assert.match(tps, /^\d+(\.\d)? tokens\/s$/);
    assert.equal(await page.$eval('#browser-backend-name', (n) => n.textContent), 'wasm');
    await axeCheck(page, '/browser');
    await page.screenshot({ path: path.join(shots, 'browser.png') });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

test('tiny-qwen2 (BPE, its own chat template) matches its references in the browser',
  { skip }, async () => {
    await loadOnPage('qwen');
    const ref = readJson('tiny-qwen2-q8_0.json');
    const positions = await page.evaluate((ids) => window.hearthBrowser.hearth.teacherForced(ids),
      ref.teacher.ids);
    const { worst, tol } = checkTeacher('tiny-qwen2-q8_0', positions);
    console.log(`# tiny-qwen2-q8_0 in chromium: max |diff|/std ${worst.toFixed(4)} (tol ${tol})`);
    // The greedy continuation, with each step's std from a teacher pass over prompt + output.
    const steps = ref.greedy.generated_ids.length;
    const greedy = await page.evaluate((ids, n) => window.hearthBrowser.hearth.greedy(ids, n),
      ref.greedy.prompt_ids, steps);
    const stats = await page.evaluate((ids) => window.hearthBrowser.hearth.teacherForced(ids),
      [...ref.greedy.prompt_ids, ...greedy.slice(0, -1)]);
    checkGreedy('tiny-qwen2-q8_0', greedy, stats.slice(ref.greedy.prompt_ids.length - 1).map((s) => s.std));
    for (const { text, ids } of ref.tokenize) {
      assert.deepEqual(await page.evaluate((t) => window.hearthBrowser.hearth.tokenize(t), text), ids,
        `tokenize ${JSON.stringify(text)}`);
    }
    await page.close();
  });

// The OPFS entry of the page's model, edited from the page (the same origin's storage).
async function editCache(sha, how) {
  await page.evaluate(async (name, mode) => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('hearth-models');
    const handle = await dir.getFileHandle(name);
    const file = await handle.getFile();
    const writable = await handle.createWritable({ keepExistingData: true });
    if (mode === 'truncate') {
      await writable.truncate(Math.floor(file.size / 2));
    } else {
      const at = Math.floor(file.size / 3);
      const byte = new Uint8Array(await file.slice(at, at + 1).arrayBuffer());
      await writable.write({ type: 'write', position: at, data: Uint8Array.of(byte[0] ^ 0xff) });
    }
    await writable.close();
  }, `${sha}.gguf`, how);
}

test('the OPFS cache: a hit downloads nothing, a cut entry resumes, a corrupted one is refetched',
  { skip }, async () => {
    const size = fs.statSync(model('stories260K.gguf')).size;
    // The first test of this file downloaded stories into this browser profile's OPFS.
    let report = await loadOnPage('stories');
    assert.equal(report.download.cache, 'hit');
    assert.equal(report.download.bytesFetched, 0);
    assert.equal(report.download.requests, 0);
    const sha = report.model.sha256;
    assert.match(sha, /^[0-9a-f]{64}$/);

    await editCache(sha, 'truncate');
    await page.close();
    report = await loadOnPage('stories');
    assert.match(report.download.cache, /^resumed at /);
    assert.equal(report.download.bytesFetched, size - Math.floor(size / 2));
    assert.equal(report.download.requests, 1);

    await editCache(sha, 'corrupt');
    await page.close();
    report = await loadOnPage('stories');
    assert.equal(report.download.cache, 'corrupted cache entry replaced');
    assert.equal(report.download.bytesFetched, size);
    // The refetched model is the right one.
    const ref = readJson('stories260K.json');
    const greedy = await page.evaluate((ids, n) => window.hearthBrowser.hearth.greedy(ids, n),
      ref.greedy.prompt_ids, 8);
    assert.deepEqual(greedy, ref.greedy.generated_ids.slice(0, 8));
    await page.close();
  });

test('the page switches to the server backend', { skip }, async () => {
  await loadOnPage('stories');
  await page.select('#browser-backend', 'server');
  await page.click('#browser-load');
  await page.waitForFunction(() => document.querySelector('#browser-backend-name')?.textContent === 'server');
  await page.type('#browser-input', 'Once upon a time');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => {
    const last = [...document.querySelectorAll('#browser-messages .message.assistant .body')].pop();
    return last && last.textContent.length > 0 && !last.parentElement.hasAttribute('aria-busy');
  }, { timeout: 60000 });
  const tps = await page.$eval('#browser-tps-generation', (n) => n.textContent);
  assert.match(tps, /tokens\/s$/);
  await page.screenshot({ path: path.join(shots, 'browser-server.png') });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('an unknown model is a clear message on the page', { skip }, async () => {
  page = await openPage(browser, server.baseURL, '/browser?model=nope');
  await page.waitForSelector('body[data-browser-state="failed"]', { timeout: 60000 });
  const text = await page.$eval('.message.error .body', (n) => n.textContent);
  // The server's own reason, not just a status.
  assert.match(text, /cannot fetch the model \(\/v1\/models\/nope\/file\): No model file for 'nope'/);
  await page.screenshot({ path: path.join(shots, 'browser-error.png') });
  await page.close();
});

// Chromium applies a DevTools quota override to writes but not to navigator.storage.estimate()
// (which still reports the real quota), so this exercises the write-time check; the
// estimate-time one is tested in Node (wasm/test/hearth_api.test.mjs).
test('a model that does not fit the storage quota fails with a clear message', { skip }, async () => {
  page = await openPage(browser, server.baseURL, '/browser');
  // Nothing cached, and a quota far below the model's 1.1 MiB (Chrome's DevTools protocol).
  await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    await root.removeEntry('hearth-models', { recursive: true }).catch(() => {});
  });
  const cdp = await page.createCDPSession();
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.baseURL, quotaSize: 200 * 1024 });
  await page.type('#browser-model', 'stories');
  await page.select('#browser-backend', 'wasm');
  await page.click('#browser-load');
  await page.waitForSelector('body[data-browser-state="failed"]', { timeout: 60000 });
  const text = await page.$eval('.message.error .body', (n) => n.textContent);
  assert.match(text, /this browser's storage is full after .* of the model's 1\.1 MiB: free some space/);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.baseURL });
  await page.close();
});
