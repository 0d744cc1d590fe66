// logprobs through the official openai client, on stories260K (real weights, greedy).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, model } from './harness.mjs';

let server;
let client;

before(async () => {
  server = await startServer([
    '-m', model('stories260K.gguf'), '--alias', 'stories', '--parallel', '1',
    '--reasoning-format', 'none',
  ]);
  client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
});

function checkEntry(e, top) {
  assert.equal(typeof e.token, 'string');
  assert.ok(e.logprob <= 0);
  assert.deepEqual(e.bytes, [...Buffer.from(e.token, 'utf8')]);
  assert.equal(e.top_logprobs.length, top);
  for (let i = 1; i < top; ++i) assert.ok(e.top_logprobs[i - 1].logprob >= e.top_logprobs[i].logprob);
  if (top > 0) assert.equal(e.top_logprobs[0].token, e.token, 'greedy picks the most likely');
}

test('chat: logprobs.content per token, whole and streamed alike', async () => {
  const request = {
    model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3,
  };
  const r = await client.chat.completions.create(request);
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const e of content) checkEntry(e, 3);
  assert.equal(content.map((e) => e.token).join(''), r.choices[0].message.content);

  const streamed = [];
  for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
    const lp = chunk.choices[0]?.logprobs;
    if (lp) streamed.push(...lp.content);
  }
  // Same tokens; the values may differ in the last bits (the second request reuses the
  // cached prompt, a different evaluation order).
  assert.deepEqual(streamed.map((e) => e.token), content.map((e) => e.token));
  for (let i = 0; i < content.length; ++i) {
    assert.ok(Math.abs(streamed[i].logprob - content[i].logprob) < 1e-3);
    assert.deepEqual(streamed[i].top_logprobs.map((t) => t.token),
      content[i].top_logprobs.map((t) => t.token));
  }

  const plain = await client.chat.completions.create({ ...request, logprobs: false, top_logprobs: undefined });
  assert.equal(plain.choices[0].logprobs, null);
});

test('completions: tokens, token_logprobs, top_logprobs, text_offset', async () => {
  const r = await client.completions.create({
    model: 'stories', prompt: 'Once upon', max_tokens: 5, temperature: 0, logprobs: 2, echo: true,
  });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 5);
  assert.equal(lp.token_logprobs.length, 5);
  assert.equal(lp.top_logprobs.length, 5);
  assert.equal(lp.text_offset[0], 'Once upon'.length);
  for (let i = 0; i < 5; ++i) {
    assert.equal(r.choices[0].text.slice(lp.text_offset[i], lp.text_offset[i] + lp.tokens[i].length), lp.tokens[i]);
    assert.ok(Object.keys(lp.top_logprobs[i]).length >= 1);
    assert.ok(lp.token_logprobs[i] <= 0);
  }
});

test('bad logprobs fields are 400s naming them', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'x' }], top_logprobs: 2 }),
    (e) => e.status === 400 && e.error?.param === 'top_logprobs');
  await assert.rejects(
    client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 30 }),
    (e) => e.status === 400 && e.error?.param === 'top_logprobs');
});
