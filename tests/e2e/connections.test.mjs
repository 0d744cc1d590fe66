// The HTTP front under many clients, as a real server process: half-open and idle
// connections cost no thread, a flood of streams gets full answers or a clean 503, pipelined
// requests are answered in order. (Scaled down from bench/connections.mjs, which measures the
// same at 11,000 connections. A client that stops reading is dropped after the write deadline:
// src/http/server_test.cpp shows it; here the kernel's socket buffers would absorb a whole
// generation of the fixture model first.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { startServer, model } from './harness.mjs';

let server;

before(async () => {
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--parallel', '2', '--max-queue', '8', '-t', '1']);
});
after(async () => { await server.stop(); });

function connect() {
  return new Promise((resolve, reject) => {
    const s = net.connect(server.port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('hundreds of half-open and idle connections do not delay /health', async () => {
  const held = [];
  for (let i = 0; i < 300; i++) {
    const s = await connect();
    s.on('error', () => {});
    s.write('POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
    held.push(s);
  }
  for (let i = 0; i < 1000; i++) {
    const s = await connect();
    s.on('error', () => {});
    held.push(s);
  }
  try {
    const start = Date.now();
    const res = await fetch(`${server.baseURL}/health`);
    assert.equal(res.status, 200);
    // cpp-httplib's 32 threads would hold this until the 30 s read timeout; the event loop
    // answers at once. A wide margin: this is about being blocked, not about speed.
    assert.ok(Date.now() - start < 5000, `took ${Date.now() - start} ms`);
    const r = await fetch(`${server.baseURL}/v1/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'stories', prompt: 'Once', max_tokens: 4 }),
    });
    assert.equal(r.status, 200);
  } finally {
    for (const s of held) s.destroy();
  }
});

function stream(body) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path: '/v1/completions',
      method: 'POST', agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'], data }));
      res.on('error', (e) => resolve({ status: 'reset', error: String(e) }));
    });
    req.on('error', (e) => resolve({ status: 'reset', error: String(e) }));
    req.end(JSON.stringify(body));
  });
}

test('a flood of streams: each gets its whole stream or a 503 with Retry-After', async () => {
  const results = await Promise.all(Array.from({ length: 60 }, () =>
    stream({ model: 'stories', prompt: 'Once upon a time', max_tokens: 12, stream: true })));
  let complete = 0;
  for (const r of results) {
    if (r.status === 200) {
      assert.match(r.data, /data: \[DONE\]\n\n$/);
      complete++;
    } else {
      assert.equal(r.status, 503, JSON.stringify(r));
      assert.ok(Number(r.retryAfter) > 0, JSON.stringify(r));
    }
  }
  // 2 slots + 8 queued at least; the rest may be refused.
  assert.ok(complete >= 10, `only ${complete} completed`);
});

test('pipelined requests on one connection are answered in order', async () => {
  const s = await connect();
  let data = '';
  s.setEncoding('utf8');
  s.on('data', (d) => { data += d; });
  s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
    'GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  await new Promise((resolve) => s.on('end', resolve));
  const statuses = [...data.matchAll(/HTTP\/1\.1 (\d+) /g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [200, 200, 404]);
  assert.ok(data.indexOf('"stories"') < data.indexOf('not_found'));
});

test('--tls-cert/--tls-key serve https, streams included; plain http gets no answer', async () => {
  const { execFileSync, spawn } = await import('node:child_process');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const https = await import('node:https');
  const { hearthBinary, freePort } = await import('./harness.mjs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const port = await freePort();
  const child = spawn(hearthBinary, ['serve', '--port', String(port), '-m', model('stories260K.gguf'),
    '--alias', 'stories', '-t', '1', '--tls-cert', cert, '--tls-key', key], { stdio: 'ignore' });
  const ca = fs.readFileSync(cert);
  const get = (method, pathName, body) => new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: pathName, method, ca,
      headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, data }));
    });
    req.on('error', reject);
    req.end(body);
  });
  try {
    let health;
    for (let i = 0; i < 100 && !health; i++) {
      try { health = await get('GET', '/health'); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.equal(health?.status, 200);
    const streamed = await get('POST', '/v1/completions',
      JSON.stringify({ model: 'stories', prompt: 'Once', max_tokens: 6, stream: true }));
    assert.equal(streamed.status, 200);
    assert.match(streamed.data, /data: \[DONE\]\n\n$/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
