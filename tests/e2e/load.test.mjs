// Concurrency: 16 streaming clients for 30 s against 4 slots, then a client killed mid-stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, model, metric, waitFor } from './harness.mjs';

let server;
const seconds = Number(process.env.HEARTH_LOAD_SECONDS ?? 30);

before(async () => {
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories', '--parallel', '4']);
});
after(async () => { await server.stop(); });

async function streamOnce(i) {
  const res = await fetch(`${server.baseURL}/v1/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'stories', prompt: `Once upon a time ${i}`, max_tokens: 24,
      temperature: 0.8, seed: i, stream: true }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const text = await res.text();
  if (!text.includes('"finish_reason":"') || !text.trimEnd().endsWith('data: [DONE]')) {
    throw new Error(`incomplete stream: ${text.slice(-200)}`);
  }
}

test(`16 concurrent streaming clients for ${seconds} s: no failure, no leaked slot`, async () => {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const failures = [];
  await Promise.all(Array.from({ length: 16 }, async (_, c) => {
    for (let i = 0; Date.now() < deadline; i++) {
      try { await streamOnce(c * 100000 + i); done++; } catch (e) { failures.push(String(e)); }
    }
  }));
  assert.deepEqual(failures, []);
  assert.ok(done >= 16, `completed ${done} requests`);
  await waitFor(async () => (await metric(server.baseURL, 'hearth_slots_busy')) === 0, 2000, 'idle slots');
  assert.equal(await metric(server.baseURL, 'hearth_queue_depth'), 0);
  assert.equal(await metric(server.baseURL, 'hearth_requests_in_flight'), 0);
});

test('a client killed mid-stream frees its slot at once', async () => {
  const controller = new AbortController();
  const res = await fetch(`${server.baseURL}/v1/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: controller.signal,
    body: JSON.stringify({ model: 'stories', prompt: 'Once upon a time', max_tokens: 100000,
      ignore_eos: true, stream: true }),
  });
  const reader = res.body.getReader();
  await reader.read();
  await reader.read();
  assert.equal(await metric(server.baseURL, 'hearth_slots_busy'), 1);
  const cancelledBefore = await metric(server.baseURL, 'hearth_requests_cancelled_total');
  controller.abort();
  const t0 = performance.now();
  await waitFor(async () => (await metric(server.baseURL, 'hearth_slots_busy')) === 0, 1000, 'the slot to be freed');
  const freedMs = performance.now() - t0;
  assert.ok(freedMs < 1000, `slot freed after ${freedMs.toFixed(0)} ms`);
  assert.equal(await metric(server.baseURL, 'hearth_requests_cancelled_total'), cancelledBefore + 1);
});
