// GET /v1/models/{id}/file (src/server/model_files.h): a model's GGUF for the browser engine.
// Byte-identical full fetch (sha256 = ETag), HEAD, single ranges, an unsatisfiable range,
// If-None-Match and If-Range, unknown ids and paths, a catalog (hf://) file from the cache,
// the headers the browser needs, and stalled clients that must not hold the server's threads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer, model } from './harness.mjs';

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const stories = fs.readFileSync(model('stories260K.gguf'));
const storiesSha = sha256(stories);
const big = model('tiny-gemma3-f16.gguf');  // 32 MB: more than the socket buffers hold

// A HEARTH_HOME whose cache holds one hub file, as `hearth model download` leaves it.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-file-home-'));
const cachedDir = path.join(home, 'models', 'test-owner', 'tiny-repo');
fs.mkdirSync(cachedDir, { recursive: true });
fs.copyFileSync(model('stories260K.gguf'), path.join(cachedDir, 'stories.gguf'));
fs.writeFileSync(path.join(cachedDir, 'stories.gguf.sha256'), `${storiesSha} ${stories.length}\n`);

let server;
before(async () => {
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '-m', big, '--alias', 'gemma', '--no-download'], { HEARTH_HOME: home });
});
after(async () => {
  await server?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

const url = (id) => `${server.baseURL}/v1/models/${encodeURIComponent(id)}/file`;

test('the full file is byte-identical, with its sha256 as ETag and the browser headers', async () => {
  const res = await fetch(url('stories'));
  assert.equal(res.status, 200);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(sha256(bytes), storiesSha);
  assert.equal(res.headers.get('etag'), `"${storiesSha}"`);
  assert.equal(res.headers.get('content-length'), String(stories.length));
  assert.equal(res.headers.get('accept-ranges'), 'bytes');
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
  assert.equal(res.headers.get('transfer-encoding'), null);

  const head = await fetch(url('stories'), { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(stories.length));
  assert.equal(head.headers.get('etag'), `"${storiesSha}"`);

  // A bigger file streams too (and is hashed once, on first request).
  const gemma = Buffer.from(await (await fetch(url('gemma'))).arrayBuffer());
  assert.equal(sha256(gemma), sha256(fs.readFileSync(big)));
});

test('a single range is a 206 with Content-Range; suffix and open ranges work', async () => {
  const res = await fetch(url('stories'), { headers: { Range: 'bytes=100-1123' } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('content-range'), `bytes 100-1123/${stories.length}`);
  assert.equal(res.headers.get('content-length'), '1024');
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(stories.subarray(100, 1124)));

  const tail = await fetch(url('stories'), { headers: { Range: 'bytes=-10' } });
  assert.equal(tail.status, 206);
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(stories.subarray(stories.length - 10)));

  const rest = await fetch(url('stories'), { headers: { Range: `bytes=${stories.length - 5}-` } });
  assert.equal(rest.status, 206);
  assert.equal(rest.headers.get('content-range'),
    `bytes ${stories.length - 5}-${stories.length - 1}/${stories.length}`);
  assert.ok(Buffer.from(await rest.arrayBuffer()).equals(stories.subarray(stories.length - 5)));

  // The end clamps to the file.
  const over = await fetch(url('stories'), { headers: { Range: `bytes=0-${stories.length * 2}` } });
  assert.equal(over.status, 206);
  assert.equal((await over.arrayBuffer()).byteLength, stories.length);
});

test('an unsatisfiable range is a 416 with the size; a malformed one is ignored', async () => {
  const res = await fetch(url('stories'), { headers: { Range: `bytes=${stories.length}-` } });
  assert.equal(res.status, 416);
  assert.equal(res.headers.get('content-range'), `bytes */${stories.length}`);
  const body = await res.json();
  assert.equal(body.error.code, 'range_not_satisfiable');
  assert.match(body.error.message, /outside the file/);

  const malformed = await fetch(url('stories'), { headers: { Range: 'bytes=abc' } });
  assert.equal(malformed.status, 200);
  assert.equal((await malformed.arrayBuffer()).byteLength, stories.length);
});

test('If-None-Match gives 304; If-Range with another tag sends the whole file', async () => {
  const etag = `"${storiesSha}"`;
  const same = await fetch(url('stories'), { headers: { 'If-None-Match': etag } });
  assert.equal(same.status, 304);
  assert.equal(same.headers.get('etag'), etag);
  assert.equal((await same.arrayBuffer()).byteLength, 0);

  const other = await fetch(url('stories'), { headers: { 'If-None-Match': '"0000"' } });
  assert.equal(other.status, 200);
  await other.arrayBuffer();

  const resumed = await fetch(url('stories'), { headers: { Range: 'bytes=10-', 'If-Range': etag } });
  assert.equal(resumed.status, 206);
  await resumed.arrayBuffer();
  const changed = await fetch(url('stories'), { headers: { Range: 'bytes=10-', 'If-Range': '"x"' } });
  assert.equal(changed.status, 200);
  assert.equal((await changed.arrayBuffer()).byteLength, stories.length);
});

test('unknown ids and paths are a 404 JSON error; a cached hub file is served', async () => {
  for (const id of ['no-such-model', '/etc/passwd', model('stories260K.gguf'), 'hf://a/b/c.gguf']) {
    const res = await fetch(url(id));
    assert.equal(res.status, 404, id);
    const body = await res.json();
    assert.equal(body.error.code, 'model_not_found', id);
    assert.match(body.error.message, /No model file for/);
  }
  const hub = await fetch(url('hf://test-owner/tiny-repo/stories.gguf'));
  assert.equal(hub.status, 200);
  assert.equal(hub.headers.get('etag'), `"${storiesSha}"`);
  assert.equal(sha256(Buffer.from(await hub.arrayBuffer())), storiesSha);
});

// The server's thread count (Linux): its worker pool grows on demand (up to 256), so a stream
// that parked a worker would show up here as one more thread.
const threads = () => Number(/^Threads:\s+(\d+)/m.exec(
  fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))[1]);

test('stalled and vanished downloads do not hold the server', async () => {
  // 40 clients start the 32 MB download and stop reading: each stream pauses at the
  // transport's high-water mark without keeping a worker thread.
  const before = threads();
  const stalled = [];
  for (let i = 0; i < 40; ++i) {
    stalled.push(await new Promise((resolve, reject) => {
      const req = http.get(url('gemma'), (res) => {
        res.pause();
        resolve(req);
      });
      req.on('error', reject);
    }));
  }
  // Let every stream fill its socket and the transport's buffer, then count.
  await new Promise((r) => setTimeout(r, 1000));
  const during = threads();
  assert.ok(during - before < 20, `threads: ${before} before, ${during} with 40 stalled downloads`);
  console.log(`# threads: ${before} before, ${during} with 40 stalled downloads`);
  const started = Date.now();
  const models = await fetch(`${server.baseURL}/v1/models`);
  assert.equal(models.status, 200);
  const small = await fetch(url('stories'));
  assert.equal(sha256(Buffer.from(await small.arrayBuffer())), storiesSha);
  assert.ok(Date.now() - started < 10000, `the server answered in ${Date.now() - started} ms`);
  for (const req of stalled) req.destroy();
  // And after they vanish the server still serves whole files.
  const again = await fetch(url('gemma'));
  assert.equal((await again.arrayBuffer()).byteLength, fs.statSync(big).size);
});
