// A client that gives up on a non-streaming request: nothing is written to it until the
// answer is complete, so the server must notice the closed connection by itself and free
// the slot, instead of generating to the end for nobody.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, model, metric, waitFor } from './harness.mjs';

let server;

before(async () => {
  // One slot and a long context: the abandoned request would hold the only slot for many
  // seconds if it ran to its end.
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--parallel', '1', '--ctx-size', '32768', '-t', '1']);
});
after(async () => { await server.stop(); });

function completion(body, signal) {
  return fetch(`${server.baseURL}/v1/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, signal,
    body: JSON.stringify({ model: 'stories', ...body }),
  });
}

test('an aborted non-streaming request frees its slot and the next request is served', async () => {
  const cancelledBefore = await metric(server.baseURL, 'hearth_requests_cancelled_total');
  const controller = new AbortController();
  const abandoned = completion({ prompt: 'Once upon a time', max_tokens: 30000, ignore_eos: true },
    controller.signal).catch((e) => e);
  await waitFor(async () => (await metric(server.baseURL, 'hearth_slots_busy')) === 1, 5000,
    'the long request to start');
  controller.abort();
  assert.equal((await abandoned).name, 'AbortError');

  const t0 = performance.now();
  await waitFor(async () => (await metric(server.baseURL, 'hearth_slots_busy')) === 0, 2000,
    'the slot to be freed');
  const freedMs = performance.now() - t0;
  assert.ok(freedMs < 2000, `slot freed after ${freedMs.toFixed(0)} ms`);
  assert.equal(await metric(server.baseURL, 'hearth_requests_cancelled_total'),
    cancelledBefore + 1);

  // With the only slot free again, a short request does not wait behind the abandoned one.
  const t1 = performance.now();
  const res = await completion({ prompt: 'Once upon a time', max_tokens: 8 });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.usage.completion_tokens, 8);
  assert.ok(performance.now() - t1 < 2000, 'the next request was served promptly');
  assert.equal(await metric(server.baseURL, 'hearth_requests_in_flight'), 0);
});
