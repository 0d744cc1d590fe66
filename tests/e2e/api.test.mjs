// The OpenAI surface through the official openai client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, model } from './harness.mjs';

let server;
let client;

before(async () => {
  server = await startServer([
    '-m', model('tiny-qwen2-q8_0.gguf'), '--alias', 'qwen',
    '-m', model('stories260K.gguf'), '--alias', 'stories',
    '--parallel', '2', '--ctx-size', '512',
  ]);
  client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
});

test('lists models and fetches one', async () => {
  const list = await client.models.list();
  const ids = list.data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['qwen', 'stories']);
  for (const m of list.data) {
    assert.equal(m.object, 'model');
    assert.equal(typeof m.created, 'number');
    assert.equal(typeof m.owned_by, 'string');
  }
  const one = await client.models.retrieve('stories');
  assert.equal(one.id, 'stories');
  await assert.rejects(client.models.retrieve('nope'), (e) => e.status === 404);
});

test('chat completion, non-streaming, with usage', async () => {
  const r = await client.chat.completions.create({
    model: 'qwen',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello!' }],
    max_tokens: 8,
    temperature: 0,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'qwen');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 10, 'the chat template adds its markup to the prompt');
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  if (r.choices[0].finish_reason === 'length') assert.equal(r.usage.completion_tokens, 8);
});

test('chat completion streams deltas, a finish reason and usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'qwen',
    messages: [{ role: 'user', content: 'Count to five.' }],
    max_tokens: 12,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    if (chunk.choices.length === 0) continue;
    text += chunk.choices[0].delta.content ?? '';
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  assert.ok(chunks >= 3);
  assert.ok(['stop', 'length'].includes(finish));
  assert.ok(usage, 'include_usage sends a usage chunk');
  assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= 12);

  // The same request without streaming gives the same text (greedy).
  const whole = await client.chat.completions.create({
    model: 'qwen',
    messages: [{ role: 'user', content: 'Count to five.' }],
    max_tokens: 12,
    temperature: 0,
  });
  assert.equal(whole.choices[0].message.content, text);
});

test('stop strings end the text before the match', async () => {
  const full = await client.completions.create({
    model: 'stories', prompt: 'Once upon a time', max_tokens: 24, temperature: 0,
  });
  const text = full.choices[0].text;
  assert.match(text, /Lily/, 'the real-weights fixture tells its usual story');
  const cut = await client.completions.create({
    model: 'stories', prompt: 'Once upon a time', max_tokens: 24, temperature: 0, stop: ['Lily', 'zzz'],
  });
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf('Lily')));
  assert.equal(cut.choices[0].finish_reason, 'stop');
});

test('a seed makes sampling reproducible', async () => {
  const ask = (seed) => client.completions.create({
    model: 'stories', prompt: 'The dog', max_tokens: 20, temperature: 1.0, seed,
  }).then((r) => r.choices[0].text);
  const a = await ask(1234);
  const b = await ask(1234);
  assert.equal(a, b);
  const others = await Promise.all([ask(1), ask(2), ask(3)]);
  assert.ok(others.some((t) => t !== a), 'different seeds give different text');
});

test('json_object output parses', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({
      model: 'qwen',
      messages: [{ role: 'user', content: 'Describe a cat as JSON.' }],
      response_format: { type: 'json_object' },
      max_tokens: 40,
      temperature: 0.8,
      seed,
    });
    const content = r.choices[0].message.content;
    const parsed = JSON.parse(content);
    assert.equal(typeof parsed, 'object');
    assert.ok(parsed !== null && !Array.isArray(parsed));
  }
});

test('json_schema output parses and uses only the declared keys and types', async () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string' }, legs: { type: 'integer' }, kind: { enum: ['cat', 'dog'] } },
    required: ['name', 'legs', 'kind'],
  };
  for (const seed of [4, 5]) {
    const r = await client.chat.completions.create({
      model: 'qwen',
      messages: [{ role: 'user', content: 'Describe a pet.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'pet', schema } },
      max_tokens: 60, temperature: 0.7, seed,
    });
    const parsed = JSON.parse(r.choices[0].message.content);
    for (const key of Object.keys(parsed)) assert.ok(key in schema.properties, `unexpected key ${key}`);
    if ('legs' in parsed) assert.ok(Number.isInteger(parsed.legs));
    if ('kind' in parsed) assert.ok(['cat', 'dog'].includes(parsed.kind));
    if (r.choices[0].finish_reason === 'stop') {
      assert.deepEqual(Object.keys(parsed).sort(), ['kind', 'legs', 'name']);
    }
  }
  const bad = await fetch(`${server.baseURL}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'nonsense' } } } }),
  });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, 'response_format.json_schema');
});

test('embeddings: mean-pooled, normalized, deterministic, in float and base64', async () => {
  const r = await client.embeddings.create({ model: 'qwen', input: ['local models', 'cloud models', 'local models'] });
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, 3);
  const [a, b, c] = r.data.map((d) => d.embedding);
  assert.equal(a.length, 64, "n_embd of the fixture model");
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4, `L2 norm ${norm}`);
  assert.deepEqual(a, c, 'the same text gives the same vector');
  assert.notDeepEqual(a, b);
  assert.ok(r.usage.prompt_tokens > 0);
  const plain = await (await fetch(`${server.baseURL}/v1/embeddings`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'qwen', input: 'local models', encoding_format: 'float' }),
  })).json();
  const fromFloat = plain.data[0].embedding;
  assert.equal(fromFloat.length, 64);
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(fromFloat[i] - a[i]) < 1e-6);
});

test('multi-turn chats reuse the cached prefix', async () => {
  const messages = [{ role: 'user', content: 'Tell me about the sea.' }];
  const first = await client.chat.completions.create({ model: 'qwen', messages, max_tokens: 6, temperature: 0 });
  messages.push({ role: 'assistant', content: first.choices[0].message.content });
  messages.push({ role: 'user', content: 'And the sky?' });
  const second = await client.chat.completions.create({ model: 'qwen', messages, max_tokens: 6, temperature: 0 });
  const cached = second.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached >= first.usage.prompt_tokens - 1,
    `second turn reused ${cached} of the first turn's ${first.usage.prompt_tokens} prompt tokens`);
});
