// Bad and hostile input: each gets its status and an OpenAI-shaped error body, and the server
// keeps answering afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, model } from './harness.mjs';

let server;

before(async () => {
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--ctx-size', '64', '--parallel', '2', '--max-body-mb', '1']);
});
after(async () => { await server.stop(); });

async function post(path, body, headers = {}) {
  const res = await fetch(server.baseURL + path, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}

function assertError(r, status, { param, code } = {}) {
  assert.equal(r.status, status, r.text);
  assert.ok(r.json?.error, `an error body, got: ${r.text.slice(0, 200)}`);
  assert.equal(typeof r.json.error.message, 'string');
  assert.equal(typeof r.json.error.type, 'string');
  assert.ok('param' in r.json.error && 'code' in r.json.error);
  if (param !== undefined) assert.equal(r.json.error.param, param);
  if (code !== undefined) assert.equal(r.json.error.code, code);
}

const user = [{ role: 'user', content: 'Hi' }];

test('malformed JSON and wrong types are 400s naming the parameter', async () => {
  assertError(await post('/v1/chat/completions', '{"messages": [', {}), 400, { code: 'invalid_json' });
  assertError(await post('/v1/chat/completions', '', {}), 400, { code: 'invalid_json' });
  assertError(await post('/v1/chat/completions', { messages: 'hello' }), 400, { param: 'messages' });
  assertError(await post('/v1/chat/completions', { messages: user, temperature: 'warm' }), 400, { param: 'temperature' });
  assertError(await post('/v1/chat/completions', { messages: user, stream: 1 }), 400, { param: 'stream' });
  assertError(await post('/v1/completions', { prompt: 42 }), 400, { param: 'prompt' });
});

test('out-of-range numbers are 400s', async () => {
  assertError(await post('/v1/chat/completions', { messages: user, max_tokens: -5 }), 400, { param: 'max_tokens' });
  assertError(await post('/v1/chat/completions', { messages: user, max_tokens: 1e15 }), 400, { param: 'max_tokens' });
  assertError(await post('/v1/chat/completions', { messages: user, temperature: 7 }), 400, { param: 'temperature' });
  assertError(await post('/v1/chat/completions', { messages: user, top_p: -1 }), 400, { param: 'top_p' });
});

test('unknown model is a 404, unknown route too, and both are JSON', async () => {
  assertError(await post('/v1/chat/completions', { model: 'gpt-9', messages: user }), 404, { code: 'model_not_found' });
  const res = await fetch(server.baseURL + '/v1/nothing-here');
  assert.equal(res.status, 404);
  assert.ok((await res.json()).error);
});

test('a known route with the wrong method is a JSON 405 naming the allowed method', async () => {
  const res = await fetch(server.baseURL + '/v1/chat/completions');
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'POST');
  assert.match((await res.json()).error.message, /Method not allowed/);
});

test('a prompt longer than the context is context_length_exceeded', async () => {
  const long = 'word '.repeat(400);
  assertError(await post('/v1/chat/completions', { messages: [{ role: 'user', content: long }] }), 400,
    { code: 'context_length_exceeded' });
  assertError(await post('/v1/completions', { prompt: long }), 400, { code: 'context_length_exceeded' });
});

// Raw HTTP over a socket, for what fetch will not send.
function rawRequest(payload, { readTimeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let data = '';
    socket.setTimeout(readTimeoutMs, () => { socket.destroy(); resolve(data); });
    socket.on('data', (d) => { data += d; });
    socket.on('error', () => resolve(data));
    socket.on('close', () => resolve(data));
    socket.on('connect', () => payload(socket));
  });
}

test('a 100 MB body is refused with 413 without reading it all', async () => {
  const size = 100 * 1024 * 1024;
  const reply = await rawRequest((socket) => {
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${size}\r\n\r\n`);
    socket.write(Buffer.alloc(64 * 1024, 0x20));
  });
  assert.match(reply, /^HTTP\/1\.1 413/);
  assert.match(reply, /"error"/);
});

test('a client that never finishes its request or never reads does not block others', async () => {
  // Headers that never end, and a streaming request whose reply is never read.
  const stuck = net.connect(server.port, '127.0.0.1');
  stuck.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len');
  const lazy = net.connect(server.port, '127.0.0.1');
  const body = JSON.stringify({ model: 'stories', prompt: 'Once', max_tokens: 40, stream: true });
  lazy.write(`POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  lazy.pause();
  const ok = await post('/v1/completions', { model: 'stories', prompt: 'Once upon', max_tokens: 4 });
  assert.equal(ok.status, 200, ok.text);
  stuck.destroy();
  lazy.destroy();
});

test('the server still answers after all of that', async () => {
  const health = await fetch(server.baseURL + '/health');
  assert.equal(health.status, 200);
  const r = await post('/v1/completions', { model: 'stories', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].text.length > 0, true);
});

test('API keys, when configured, are required (health stays open) and CORS is answered', async () => {
  const keyed = await startServer(['-m', model('stories260K.gguf'), '--api-key', 'sekret',
    '--cors-origin', 'http://localhost:3000']);
  try {
    const none = await fetch(keyed.baseURL + '/v1/models');
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.code, 'invalid_api_key');
    const wrong = await fetch(keyed.baseURL + '/v1/models', { headers: { Authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const right = await fetch(keyed.baseURL + '/v1/models', { headers: { Authorization: 'Bearer sekret' } });
    assert.equal(right.status, 200);
    assert.equal((await fetch(keyed.baseURL + '/health')).status, 200);
    const preflight = await fetch(keyed.baseURL + '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'POST',
                 'Access-Control-Request-Headers': 'authorization,content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    const foreign = await fetch(keyed.baseURL + '/health', { headers: { Origin: 'http://evil.example' } });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  } finally {
    await keyed.stop();
  }
});
