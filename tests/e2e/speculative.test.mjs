// Speculative decoding through the server and `hearth generate`: the same text as without it,
// and the acceptance numbers in `timings`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startServer, model, hearthBinary } from './harness.mjs';

const run = promisify(execFile);
let lookup;  // --speculate lookup
let draft;   // --draft: the model drafting for itself

// A story that repeats itself, so prompt lookup has n-grams to draft from.
const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in '
  + 'the sun. One day, she saw a big red ball in the park. Once upon a time, there was a little '
  + 'girl named Lily. She loved to play outside';

before(async () => {
  lookup = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--ctx-size', '512', '--parallel', '2', '--speculate', 'lookup']);
  draft = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--ctx-size', '512', '--parallel', '1', '--draft', model('stories260K.gguf')]);
});

after(async () => {
  assert.equal(await lookup.stop(), 0);
  assert.equal(await draft.stop(), 0);
});

async function complete(server, body) {
  const res = await fetch(`${server.baseURL}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'stories', prompt: story, temperature: 0, max_tokens: 64, ignore_eos: true,
      ...body }),
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

test('prompt lookup: the same text as plain decoding, with its acceptance in timings', async () => {
  const plain = await complete(lookup, { speculative: false });
  assert.equal(plain.timings.draft_n, undefined, 'no draft numbers when not speculating');
  const spec = await complete(lookup, {});
  assert.equal(spec.choices[0].text, plain.choices[0].text);
  assert.equal(spec.usage.completion_tokens, 64);
  const t = spec.timings;
  assert.ok(t.draft_n > 0, `drafted ${t.draft_n}`);
  assert.ok(t.draft_n_accepted > 0, `accepted ${t.draft_n_accepted}`);
  assert.ok(t.draft_n_accepted <= t.draft_n);
  assert.ok(Math.abs(t.draft_acceptance_rate - t.draft_n_accepted / t.draft_n) < 0.001);
  assert.ok(t.predicted_per_second > 0);
});

test('max_tokens, stop strings and logprobs hold while speculating', async () => {
  for (const max_tokens of [1, 2, 7, 23]) {
    const plain = await complete(lookup, { speculative: false, max_tokens });
    const spec = await complete(lookup, { max_tokens });
    assert.equal(spec.choices[0].text, plain.choices[0].text, `max_tokens ${max_tokens}`);
    assert.equal(spec.usage.completion_tokens, max_tokens);
  }
  const full = (await complete(lookup, { speculative: false })).choices[0].text;
  const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 4);
  const plain = await complete(lookup, { speculative: false, stop });
  const spec = await complete(lookup, { stop });
  assert.equal(spec.choices[0].text, plain.choices[0].text);
  assert.equal(spec.choices[0].finish_reason, 'stop');

  const plainLp = await complete(lookup, { speculative: false, logprobs: 2, max_tokens: 40 });
  const specLp = await complete(lookup, { logprobs: 2, max_tokens: 40 });
  assert.ok(specLp.timings.draft_n_accepted > 0);
  assert.deepEqual(specLp.choices[0].logprobs.tokens, plainLp.choices[0].logprobs.tokens);
  const a = specLp.choices[0].logprobs.token_logprobs;
  const b = plainLp.choices[0].logprobs.token_logprobs;
  assert.equal(a.length, 40);
  for (let i = 0; i < a.length; ++i) assert.ok(Math.abs(a[i] - b[i]) < 1e-3, `logprob ${i}`);
});

test('a JSON-constrained request does not speculate', async () => {
  const res = await fetch(`${lookup.baseURL}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'stories', messages: [{ role: 'user', content: story }],
      temperature: 0, max_tokens: 16, response_format: { type: 'json_object' } }),
  });
  const json = await res.json();
  assert.equal(res.status, 200);
  assert.equal(json.timings.draft_n, undefined);
});

test('a draft model (the model itself) is accepted nearly always', async () => {
  const plain = await complete(draft, { speculative: false });
  const spec = await complete(draft, {});
  assert.equal(spec.choices[0].text, plain.choices[0].text);
  assert.ok(spec.timings.draft_n > 20, `drafted ${spec.timings.draft_n}`);
  assert.ok(spec.timings.draft_acceptance_rate > 0.9, `rate ${spec.timings.draft_acceptance_rate}`);
});

test('hearth generate reports the acceptance and refuses a draft of another vocabulary', async () => {
  const args = ['generate', '-m', model('stories260K.gguf'), '--temp', '0', '-n', '48', '--json'];
  const plain = JSON.parse((await run(hearthBinary, [...args, story])).stdout);
  const spec = JSON.parse((await run(hearthBinary, [...args, '--speculate', 'lookup', story])).stdout);
  assert.deepEqual(spec.generated_ids, plain.generated_ids);
  assert.equal(spec.timings.speculate, 'lookup');
  assert.ok(spec.timings.draft_n_accepted > 0);
  await assert.rejects(
    run(hearthBinary, [...args, '--draft', model('tiny-llama-spm-q4_0.gguf'), story]),
    (err) => err.code === 1 && /different vocabularies/.test(err.stderr));
});
