// `timings` on chat and completion replies: the JSON body and the last SSE event before [DONE].
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, model } from './harness.mjs';

let server;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-timings-'));

before(async () => {
  // A router route to the same local model: its answers carry timings too.
  fs.writeFileSync(path.join(dir, 'router.toml'),
    '[[target]]\nname = "local"\nkind = "local"\nmodel = "stories"\n'
    + '[[route]]\nname = "routed"\npolicy = "local-only"\ntargets = ["local"]\n');
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--ctx-size', '256', '--router', path.join(dir, 'router.toml')]);
});

after(async () => {
  assert.equal(await server.stop(), 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

const keys = ['queue_ms', 'cache_n', 'prompt_n', 'prompt_ms', 'prompt_per_second', 'predicted_n',
  'predicted_ms', 'predicted_per_second', 'ttft_ms'];

function checkTimings(t, usage) {
  assert.ok(t, 'timings present');
  for (const k of keys) assert.equal(typeof t[k], 'number', k);
  assert.equal(t.predicted_n, usage.completion_tokens);
  assert.equal(t.prompt_n + t.cache_n, usage.prompt_tokens);
  assert.ok(t.ttft_ms > 0);
  assert.ok(t.ttft_ms <= t.queue_ms + t.prompt_ms + t.predicted_ms + 0.01, 'ttft <= total');
  assert.ok(t.ttft_ms + 0.01 >= t.queue_ms + t.prompt_ms, 'ttft after the prompt');
  assert.ok(t.predicted_per_second > 0);
  const expected = (t.predicted_n * 1000) / t.predicted_ms;
  assert.ok(Math.abs(t.predicted_per_second - expected) / expected < 0.01, 'tokens/s consistent');
}

async function post(path, body) {
  const res = await fetch(`${server.baseURL}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return res;
}

function sseEvents(text) {
  return text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6));
}

test('a whole chat reply carries timings that match its usage', async () => {
  const r = await (await post('/v1/chat/completions', {
    model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 12, temperature: 0,
  })).json();
  checkTimings(r.timings, r.usage);
  assert.equal(r.usage.completion_tokens, 12);
});

test('a streamed chat reply carries timings on its last event before [DONE]', async () => {
  for (const [modelId, includeUsage] of [['stories', false], ['stories', true], ['routed', false],
    ['routed', true]]) {
    const res = await post('/v1/chat/completions', {
      model: modelId, messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 10, temperature: 0, stream: true,
      ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
    });
    const events = sseEvents(await res.text());
    assert.equal(events.at(-1), '[DONE]');
    const last = JSON.parse(events.at(-2));
    const earlier = events.slice(0, -2).map((e) => JSON.parse(e));
    assert.ok(earlier.every((e) => e.timings === undefined), 'only the last event has timings');
    const usage = includeUsage ? last.usage : { completion_tokens: 10, prompt_tokens: last.timings.prompt_n + last.timings.cache_n };
    checkTimings(last.timings, usage);
    assert.equal(last.timings.predicted_n, 10);
  }
});

test('a completion carries timings too', async () => {
  const r = await (await post('/v1/completions', {
    model: 'stories', prompt: 'Lily saw', max_tokens: 5, temperature: 0,
  })).json();
  checkTimings(r.timings, r.usage);
});

test('a whole reply through a router route to a local model carries timings', async () => {
  const r = await (await post('/v1/chat/completions', {
    model: 'routed', messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 6, temperature: 0,
  })).json();
  checkTimings(r.timings, r.usage);
});
