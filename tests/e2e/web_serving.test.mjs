// How `hearth serve` serves the web app (docs/web.md), without a browser: `/` by Accept, the
// embedded assets and their headers, the app's own routes, /ui/api/conversations across a
// restart, the API key, and --no-ui.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, model } from './harness.mjs';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-web-home-'));
after(() => fs.rmSync(home, { recursive: true, force: true }));

const html = { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

function checkPageHeaders(res) {
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  // 'wasm-unsafe-eval' (compiling WebAssembly, for the in-browser engine) is the one exception;
  // JavaScript eval stays off.
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
  assert.doesNotMatch(csp.replace("'wasm-unsafe-eval'", ''), /https?:|\*|unsafe-inline|unsafe-eval/,
    'no external origin');
  // Cross-origin isolated (docs/api.md, "Web app").
  assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  assert.ok(res.headers.get('etag'));
}

test('/ is the app for browsers and "Ollama is running" for everyone else', async () => {
  const server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories'],
    { HEARTH_HOME: home });
  try {
    const plain = await fetch(`${server.baseURL}/`);
    assert.equal(await plain.text(), 'Ollama is running');

    const page = await fetch(`${server.baseURL}/`, { headers: html });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    checkPageHeaders(page);
    const text = await page.text();
    assert.match(text, /<script defer src="\/assets\/app.js"><\/script>/);

    for (const [file, type] of [['app.js', 'text/javascript; charset=utf-8'],
      ['app.css', 'text/css; charset=utf-8']]) {
      const res = await fetch(`${server.baseURL}/assets/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get('content-type'), type);
      checkPageHeaders(res);
      assert.ok((await res.text()).length > 100);
      // The browser's copy is current: 304 without a body.
      const again = await fetch(`${server.baseURL}/assets/${file}`,
        { headers: { 'If-None-Match': res.headers.get('etag') } });
      assert.equal(again.status, 304);
    }
    assert.equal((await fetch(`${server.baseURL}/assets/nope.js`)).status, 404);
    assert.equal((await fetch(`${server.baseURL}/assets/../index.html`)).status, 404);

    for (const route of ['/compare', '/models', '/browser', '/c/conv-whatever']) {
      const res = await fetch(`${server.baseURL}${route}`, { headers: html });
      assert.equal(res.status, 200, route);
      assert.equal(await res.text(), text, `${route} is the app`);
    }

    // The in-browser engine's JS package, with the page headers (COEP needs them on workers).
    for (const file of ['hearth.js', 'worker.js', 'runner.js', 'engine.js', 'sha256.js']) {
      const res = await fetch(`${server.baseURL}/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
      checkPageHeaders(res);
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('conversations survive a restart; export carries model, params, timings', async () => {
  let id;
  {
    const server = await startServer([], { HEARTH_HOME: home });
    const res = await fetch(`${server.baseURL}/ui/api/conversations`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'kept', model: 'stories', params: { temperature: 0.3 },
        messages: [{ role: 'user', content: 'hi' },
          { role: 'assistant', content: 'yo', model: 'stories', timings: { ttft_ms: 5 } }] }),
    });
    assert.equal(res.status, 201);
    id = (await res.json()).id;
    const bad = await fetch(`${server.baseURL}/ui/api/conversations/${id}`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'system', content: 'x' }] }),
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /messages\[0\]\.role/);
    // What a page on another site can send without a preflight is refused.
    const simple = await fetch(`${server.baseURL}/ui/api/conversations`, {
      method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: JSON.stringify({ title: 'csrf' }),
    });
    assert.equal(simple.status, 415);
    server.child.kill('SIGKILL');  // not even a clean shutdown
    await new Promise((r) => server.child.once('exit', r));
  }
  const server = await startServer([], { HEARTH_HOME: home });
  try {
    const list = await (await fetch(`${server.baseURL}/ui/api/conversations?q=kep`)).json();
    assert.deepEqual(list.data.map((c) => c.id), [id]);
    const exported = await fetch(`${server.baseURL}/ui/api/conversations/${id}/export`);
    assert.match(exported.headers.get('content-disposition'), /attachment; filename="conv-[0-9a-f]+\.json"/);
    const body = await exported.json();
    assert.equal(body.conversation.model, 'stories');
    assert.equal(body.conversation.params.temperature, 0.3);
    assert.equal(body.conversation.messages[1].timings.ttft_ms, 5);
    assert.ok(body.conversation.created_ms > 0);
    const del = await fetch(`${server.baseURL}/ui/api/conversations/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal((await fetch(`${server.baseURL}/ui/api/conversations/${id}`)).status, 404);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('with --api-key the shell is public and the data is not', async () => {
  const server = await startServer(['--api-key', 'sesame']);
  try {
    assert.equal((await fetch(`${server.baseURL}/`, { headers: html })).status, 200);
    assert.equal((await fetch(`${server.baseURL}/assets/app.js`)).status, 200);
    assert.equal((await fetch(`${server.baseURL}/c/x`, { headers: html })).status, 200);
    assert.equal((await fetch(`${server.baseURL}/ui/api/conversations`)).status, 401);
    const ok = await fetch(`${server.baseURL}/ui/api/conversations`,
      { headers: { Authorization: 'Bearer sesame' } });
    assert.equal(ok.status, 200);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('--no-ui turns the app off', async () => {
  const server = await startServer(['--no-ui']);
  try {
    const root = await fetch(`${server.baseURL}/`, { headers: html });
    assert.equal(await root.text(), 'Ollama is running');
    assert.equal((await fetch(`${server.baseURL}/assets/app.js`)).status, 404);
    assert.equal((await fetch(`${server.baseURL}/ui/api/conversations`)).status, 404);
    assert.equal((await fetch(`${server.baseURL}/compare`, { headers: html })).status, 404);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('without a wasm build, /hearth_wasm.wasm is a 404 that says how to build it', async () => {
  const server = await startServer(['--wasm-dir', path.join(home, 'no-wasm-here')],
    { HEARTH_HOME: home });
  try {
    for (const file of ['hearth_wasm.js', 'hearth_wasm.wasm', 'hearth_wasm_mt.js',
                        'hearth_wasm_mt.wasm', 'hearth_wasm_mt.worker.js']) {
      const res = await fetch(`${server.baseURL}/${file}`);
      assert.equal(res.status, 404, file);
      const body = await res.json();
      assert.equal(body.error.code, 'wasm_build_missing');
      assert.match(body.error.message, /make test-wasm/);
      assert.match(body.error.message, /--wasm-dir/);
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
