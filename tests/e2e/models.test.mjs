// Serving many models: a request naming a catalog alias downloads (from a local stand-in for
// the hub) and loads it on demand; Foundry Local's management routes see it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { startServerWithHub, model } from './harness.mjs';

let hub;
let server;
let client;
let home;
let stop;

before(async () => {
  ({ hub, home, server, stop } = await startServerWithHub('models', ['--ctx-size', '256', '--ttl', '600']));
  client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await stop(), 0, 'graceful shutdown exits 0');
});

test('starts with no model and answers health', async () => {
  const res = await fetch(`${server.baseURL}/health`);
  assert.equal(res.status, 200);
  assert.deepEqual(await (await fetch(`${server.baseURL}/openai/loadedmodels`)).json(), []);
});

test('a catalog alias is downloaded, verified and loaded on first use', async () => {
  const stream = await client.chat.completions.create({
    model: 'tinystories-260k',
    messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 20,
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.ok(text.length > 0, 'the story streams');
  assert.equal(hub.requests, 1);
  const cached = path.join(home, 'models/ggml-org/models/tinyllamas/stories260K.gguf');
  assert.deepEqual(fs.readFileSync(cached), fs.readFileSync(model('stories260K.gguf')));
  const ids = (await client.models.list()).data.map((m) => m.id);
  assert.deepEqual(ids, ['tinystories-260k']);
  assert.deepEqual(await (await fetch(`${server.baseURL}/openai/models`)).json(), ['tinystories-260k:f32']);
});

test('an unknown alias is a 404 with a suggestion', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'tinystories-260', messages: [{ role: 'user', content: 'Hi' }] }),
    (err) => err.status === 404 && /did you mean tinystories-260k/.test(err.message),
  );
});

test('Foundry management routes load, list and unload', async () => {
  const list = await (await fetch(`${server.baseURL}/foundry/list`)).json();
  const row = list.find((m) => m.name === 'tinystories-260k:f32');
  assert.ok(row, 'the catalog row is listed');
  assert.equal(row.cached, true);
  const unload = await fetch(`${server.baseURL}/openai/unload/tinystories-260k`);
  assert.equal(unload.status, 200);
  assert.deepEqual(await (await fetch(`${server.baseURL}/openai/loadedmodels`)).json(), []);
  const load = await fetch(`${server.baseURL}/openai/load/tinystories-260k?ttl=30`);
  assert.equal(load.status, 200);
  assert.deepEqual(await (await fetch(`${server.baseURL}/openai/loadedmodels`)).json(), ['tinystories-260k']);
  assert.equal(hub.requests, 1, 'loading again uses the cache');
  const status = await (await fetch(`${server.baseURL}/openai/status`)).json();
  assert.deepEqual(status.Endpoints, [server.baseURL]);
});
