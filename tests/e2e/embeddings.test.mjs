// An embedding model (BERT encoder) served next to a chat model. The model is a random-weight
// all-MiniLM-L6-v2 shape that `hearth bench --synthetic ... --write-only` writes with the real
// bge WordPiece vocabulary, so tokenization, shapes and pooling are those of the real model
// and only the numbers are random: the test checks the API contract, not semantic quality
// (the engine's numbers are checked against a reference in bert_family_test.cpp).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, model, fixtures, hearthBinary } from './harness.mjs';

let server;
let client;
let dir;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-bert-'));
  const written = spawnSync(hearthBinary, [
    'bench', '--synthetic', 'all-minilm-l6-v2', '--type', 'q8_0', '--cache-dir', dir, '--write-only',
  ], { env: { ...process.env, HEARTH_FIXTURES: fixtures }, encoding: 'utf8' });
  assert.equal(written.status, 0, written.stderr);
  const file = written.stdout.trim();
  assert.ok(fs.existsSync(file), `wrote ${file}`);
  server = await startServer([
    '-m', file, '--alias', 'minilm',
    '-m', model('stories260K.gguf'), '--alias', 'stories',
  ]);
  client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the embedding model is listed beside the chat model', async () => {
  const ids = (await client.models.list()).data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['minilm', 'stories']);
});

test('embeddings: n_embd floats, normalized, deterministic, [CLS] and [SEP] counted', async () => {
  const r = await client.embeddings.create({
    model: 'minilm', input: ['hello world', 'goodbye moon', 'hello world'], encoding_format: 'float',
  });
  assert.equal(r.model, 'minilm');
  assert.equal(r.data.length, 3);
  const [a, b, c] = r.data.map((d) => d.embedding);
  assert.equal(a.length, 384, 'n_embd of all-MiniLM-L6-v2');
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4, `L2 norm ${norm}`);
  assert.deepEqual(a, c, 'the same text gives the same vector');
  assert.notDeepEqual(a, b);
  // [CLS] hello world [SEP] and [CLS] goodbye moon [SEP], twice the first.
  assert.equal(r.usage.prompt_tokens, 12);
  // The default (base64 through the client) decodes to the same floats.
  const again = await client.embeddings.create({ model: 'minilm', input: 'hello world' });
  for (let i = 0; i < 384; i++) assert.ok(Math.abs(again.data[0].embedding[i] - a[i]) < 1e-6);
});

test('an input beyond the 512 learned positions is a 400', async () => {
  const long = Array(600).fill('word').join(' ');
  await assert.rejects(client.embeddings.create({ model: 'minilm', input: long }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.code, 'context_length_exceeded');
    return true;
  });
});

test('chat and completions on the embedding model are a 400 that says why', async () => {
  for (const call of [
    () => client.chat.completions.create({ model: 'minilm', messages: [{ role: 'user', content: 'Hi' }] }),
    () => client.completions.create({ model: 'minilm', prompt: 'Hi' }),
  ]) {
    await assert.rejects(call(), (e) => {
      assert.equal(e.status, 400);
      assert.match(e.message, /minilm' is an embedding model/);
      return true;
    });
  }
  // The chat model beside it is unaffected.
  const r = await client.completions.create({ model: 'stories', prompt: 'Once', max_tokens: 4 });
  assert.equal(r.choices.length, 1);
});
