// Ollama's API through the official `ollama` npm client, on the second listener
// (`hearth serve --ollama-port`): list, show, ps, chat (streamed and not, JSON format, with
// tools), generate, embed, pull with progress from a local stand-in for the hub, delete, and
// the probes Open WebUI's Ollama connection makes from a browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { startServerWithHub, freePort, model } from './harness.mjs';

let server;
let stop;
let ollamaURL;
let client;

before(async () => {
  const ollamaPort = await freePort();
  ({ server, stop } = await startServerWithHub('ollama', [
    '-m', model('stories260K.gguf'), '--alias', 'stories',
    '-m', model('tiny-qwen2-q8_0.gguf'), '--alias', 'qwen',
    '-m', model('tiny-llama3-q8_0.gguf'), '--alias', 'llama3',
    '--ctx-size', '256', '--parallel', '2', '--ollama-port', String(ollamaPort),
  ]));
  ollamaURL = `http://127.0.0.1:${ollamaPort}`;
  client = new Ollama({ host: ollamaURL });
});

after(async () => {
  assert.equal(await stop(), 0, 'graceful shutdown exits 0');
});

async function postJSON(path, body) {
  const res = await fetch(ollamaURL + path, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
}

test('GET and HEAD / say Ollama is running, on both ports', async () => {
  const res = await fetch(ollamaURL + '/');
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'Ollama is running');
  const head = await fetch(ollamaURL + '/', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal((await fetch(server.baseURL + '/api/version')).status, 200, 'the main port serves them too');
});

test("Open WebUI's connection probes pass from a loopback origin, not from others", async () => {
  const origin = 'http://localhost:8080';
  for (const path of ['/api/version', '/api/tags', '/api/ps']) {
    const res = await fetch(ollamaURL + path, { headers: { Origin: origin } });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('access-control-allow-origin'), origin, path);
    assert.match(res.headers.get('content-type'), /application\/json/);
    await res.json();
  }
  const version = await (await fetch(ollamaURL + '/api/version')).json();
  assert.match(version.version, /^\d+\.\d+\.\d+$/);
  const preflight = await fetch(ollamaURL + '/api/chat', {
    method: 'OPTIONS',
    headers: { Origin: 'http://127.0.0.1:3000', 'Access-Control-Request-Method': 'POST',
               'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://127.0.0.1:3000');
  const foreign = await fetch(ollamaURL + '/api/tags', { headers: { Origin: 'http://evil.example' } });
  assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  const sneaky = await fetch(ollamaURL + '/api/tags', { headers: { Origin: 'http://localhost.evil.example' } });
  assert.equal(sneaky.headers.get('access-control-allow-origin'), null);
});

test('list and ps show the served models', async () => {
  const { models } = await client.list();
  const names = models.map((m) => m.name).sort();
  assert.deepEqual(names, ['llama3:latest', 'qwen:latest', 'stories:latest']);
  const qwen = models.find((m) => m.name === 'qwen:latest');
  assert.ok(qwen.size > 0);
  assert.equal(qwen.details.format, 'gguf');
  assert.equal(qwen.details.family, 'qwen2');
  assert.ok(!Number.isNaN(Date.parse(qwen.modified_at)));
  const ps = await client.ps();
  const loaded = ps.models.map((m) => m.name).sort();
  assert.deepEqual(loaded, ['llama3:latest', 'qwen:latest', 'stories:latest']);
  for (const m of ps.models) {
    assert.ok(Date.parse(m.expires_at) > Date.now(), 'expires in the future');
    assert.equal(m.context_length, 256);
  }
});

test('show gives details, capabilities, template and model_info', async () => {
  const info = await client.show({ model: 'qwen' });
  assert.equal(info.details.family, 'qwen2');
  assert.ok(info.capabilities.includes('completion'));
  assert.ok(info.capabilities.includes('tools'), 'the Qwen2.5 template renders tools');
  assert.match(info.template, /<\|im_start\|>/);
  assert.equal(info.model_info['general.architecture'], 'qwen2');
  assert.equal(typeof info.model_info['qwen2.context_length'], 'number');
  assert.equal(info.model_info['tokenizer.ggml.tokens'], null, 'the vocabulary is left out');
  await assert.rejects(client.show({ model: 'nope:latest' }), (err) => err.status_code === 404);
});

test('chat streams NDJSON pieces and a final chunk with counts and durations', async () => {
  const stream = await client.chat({
    model: 'stories',
    messages: [{ role: 'user', content: 'Tell me a story' }],
    stream: true,
    options: { num_predict: 8, temperature: 0 },
  });
  const parts = [];
  for await (const part of stream) parts.push(part);
  assert.ok(parts.length >= 2, 'text pieces, then the final chunk');
  const last = parts.at(-1);
  assert.equal(last.done, true);
  assert.equal(last.done_reason, 'length');
  assert.equal(last.eval_count, 8);
  assert.ok(last.prompt_eval_count > 0);
  for (const key of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) {
    assert.equal(Number.isInteger(last[key]), true, key);
  }
  assert.ok(last.total_duration >= last.eval_duration + last.prompt_eval_duration);
  assert.ok(last.eval_duration > 0);
  for (const p of parts.slice(0, -1)) {
    assert.equal(p.done, false);
    assert.equal(p.model, 'stories');
    assert.equal(p.message.role, 'assistant');
  }
  const text = parts.map((p) => p.message.content).join('');
  assert.ok(text.length > 0);

  const whole = await client.chat({
    model: 'stories',
    messages: [{ role: 'user', content: 'Tell me a story' }],
    stream: false,
    options: { num_predict: 8, temperature: 0 },
  });
  assert.equal(whole.done, true);
  assert.equal(whole.message.content, text, 'greedy: the same text streamed or not');
  assert.equal(whole.eval_count, 8);
});

test('chat with format json answers parseable JSON', async () => {
  const reply = await client.chat({
    model: 'qwen',
    messages: [{ role: 'user', content: 'Give me a JSON object' }],
    format: 'json',
    stream: false,
    options: { num_predict: 24, seed: 7 },
  });
  const parsed = JSON.parse(reply.message.content);
  assert.equal(typeof parsed, 'object');
  const schema = await client.chat({
    model: 'qwen',
    messages: [{ role: 'user', content: 'A name' }],
    format: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    stream: false,
    options: { num_predict: 40, seed: 7 },
  });
  // Random weights write odd text, but the schema holds: one object whose key is "name".
  const named = JSON.parse(schema.message.content);
  assert.deepEqual(Object.keys(named), ['name']);
  assert.equal(typeof named.name, 'string');
});

// A random-weight model will not choose to call a tool, so the reply is held to a schema
// that is exactly a Llama 3 call (`{"name": ..., "parameters": ...}`, its bare-JSON syntax):
// what is tested is the path from the model's text to Ollama's `tool_calls`, and back into
// the prompt on the next turn.
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Paris', 'Oslo'] } },
      required: ['city'],
    },
  },
};
const llamaCallSchema = {
  type: 'object',
  properties: {
    name: { const: 'get_weather' },
    parameters: weatherTool.function.parameters,
  },
  required: ['name', 'parameters'],
};

test('chat with tools returns tool_calls, streamed and not; the result renders next turn', async () => {
  const request = {
    model: 'llama3',
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tools: [weatherTool],
    format: llamaCallSchema,
    options: { num_predict: 60, seed: 3 },
  };
  const whole = await client.chat({ ...request, stream: false });
  assert.equal(whole.message.content, '');
  assert.equal(whole.message.tool_calls.length, 1);
  const call = whole.message.tool_calls[0].function;
  assert.equal(call.name, 'get_weather');
  assert.ok(['Paris', 'Oslo'].includes(call.arguments.city), JSON.stringify(call.arguments));

  const calls = [];
  let content = '';
  for await (const part of await client.chat({ ...request, stream: true })) {
    content += part.message.content;
    calls.push(...(part.message.tool_calls ?? []));
  }
  assert.equal(content, '', 'the call text does not leak into the content');
  assert.deepEqual(calls.map((c) => c.function), [call], 'the same call, streamed');

  const next = await client.chat({
    model: 'llama3',
    messages: [
      ...request.messages,
      { role: 'assistant', content: '', tool_calls: whole.message.tool_calls },
      { role: 'tool', content: '{"temp_c": 12}' },
    ],
    tools: [weatherTool],
    stream: false,
    options: { num_predict: 4, seed: 3 },
  });
  assert.ok(next.prompt_eval_count > whole.prompt_eval_count, 'the call and its result are in the prompt');
  assert.equal(next.done, true);
});

test('generate raw matches /v1/completions greedily; templated generate answers', async () => {
  const prompt = 'Once upon a time';
  const ollama = await client.generate({ model: 'stories', prompt, raw: true, stream: false,
                                         options: { num_predict: 20, temperature: 0 } });
  const openai = await (await fetch(server.baseURL + '/v1/completions', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'stories', prompt, max_tokens: 20, temperature: 0 }),
  })).json();
  assert.equal(ollama.response, openai.choices[0].text);
  assert.equal(ollama.eval_count, 20);
  assert.equal(ollama.done_reason, 'length');

  const parts = [];
  for await (const part of await client.generate({ model: 'qwen:latest', prompt: 'Hi', system: 'Be brief.',
                                                   stream: true, options: { num_predict: 4 } })) {
    parts.push(part);
  }
  assert.equal(parts.at(-1).done, true);
  assert.equal(parts.at(-1).eval_count, 4);
  assert.ok(parts.at(-1).prompt_eval_count > 10, 'the chat template wrapped the prompt');
});

test('a prompt longer than num_ctx is a 400 naming both numbers; num_ctx bounds the answer', async () => {
  await assert.rejects(
    client.generate({ model: 'stories', prompt: 'Once upon a time there was a little dog', raw: true,
                      stream: false, options: { num_ctx: 4 } }),
    (err) => err.status_code === 400 && /prompt has \d+ tokens, more than num_ctx \(4\)/.test(err.message),
  );
  // A prompt that fits: prompt and answer together stay within num_ctx.
  const fits = await client.generate({ model: 'stories', prompt: 'Once upon a time', raw: true,
                                       stream: false, options: { num_ctx: 12, temperature: 0 } });
  assert.ok(fits.prompt_eval_count < 12);
  assert.equal(fits.prompt_eval_count + fits.eval_count, 12);
  assert.equal(fits.done_reason, 'length');
});

test('bad input is a 400 naming the field; unknown routes are a JSON 501', async () => {
  const wrongType = await postJSON('/api/chat', { model: 'stories', messages: [{ role: 'user', content: 'x' }],
                                                   options: { temperature: 'hot' } });
  assert.equal(wrongType.status, 400);
  assert.match(wrongType.body.error, /options\.temperature/);
  const badKeepAlive = await postJSON('/api/generate', { model: 'stories', prompt: 'x', keep_alive: 'soon' });
  assert.equal(badKeepAlive.status, 400);
  assert.match(badKeepAlive.body.error, /keep_alive/);
  const notJSON = await fetch(ollamaURL + '/api/chat', { method: 'POST', body: '{nope' });
  assert.equal(notJSON.status, 400);
  assert.equal(typeof (await notJSON.json()).error, 'string');
  const unknown = await postJSON('/api/chat', { model: 'missing-model', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(unknown.status, 404);
  assert.match(unknown.body.error, /missing-model/);
  const create = await postJSON('/api/create', { model: 'x', from: 'stories' });
  assert.equal(create.status, 501);
  assert.match(create.type, /application\/json/);
  assert.match(create.body.error, /not supported/);
});

test('embed and embeddings return unit vectors from a chat model', async () => {
  const { embeddings, model: name, prompt_eval_count: count } =
    await client.embed({ model: 'qwen', input: ['hello', 'a longer text'] });
  assert.equal(name, 'qwen');
  assert.equal(embeddings.length, 2);
  assert.ok(count > 0);
  for (const v of embeddings) {
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
  }
  const legacy = await client.embeddings({ model: 'qwen', prompt: 'hello' });
  assert.equal(legacy.embedding.length, embeddings[0].length);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(legacy.embedding[i] - embeddings[0][i]) < 1e-4);
  await assert.rejects(client.embed({ model: 'qwen', input: [] }), (err) => err.status_code === 400);
});

test('pull streams progress through the catalog, then the model lists, runs and deletes', async () => {
  const statuses = [];
  for await (const p of await client.pull({ model: 'tinystories:260k', stream: true })) statuses.push(p);
  assert.equal(statuses[0].status, 'pulling manifest');
  assert.equal(statuses.at(-1).status, 'success');
  const progress = statuses.filter((p) => p.total !== undefined);
  assert.ok(progress.length >= 1, 'progress lines');
  assert.ok(progress.at(-1).total > 0);
  assert.equal(progress.at(-1).completed, progress.at(-1).total);
  for (const p of progress) assert.ok(p.completed <= p.total);

  const names = (await client.list()).models.map((m) => m.name);
  assert.ok(names.includes('tinystories-260k:f32'), names.join(', '));

  const reply = await client.generate({ model: 'tinystories:260k', prompt: 'Once upon a time', raw: true,
                                        stream: false, keep_alive: '1h', options: { num_predict: 5 } });
  assert.equal(reply.done, true);
  assert.equal(reply.model, 'tinystories:260k');
  const loaded = (await (await fetch(server.baseURL + '/hearth/loaded')).json()).models;
  assert.equal(loaded.find((m) => m.id === 'tinystories-260k').ttl_seconds, 3600, 'keep_alive set its TTL');
  const pinned = loaded.find((m) => m.id === 'stories');
  assert.equal(pinned.ttl_seconds, 0, 'a -m model stays loaded');
  // keep_alive 0 with nothing to generate unloads it (it was loaded on demand).
  const unload = await client.generate({ model: 'tinystories:260k', prompt: '', keep_alive: 0 });
  assert.equal(unload.done_reason, 'unload');
  assert.ok(!(await client.ps()).models.some((m) => m.name.startsWith('tinystories')));

  await client.delete({ model: 'tinystories-260k:f32' });
  assert.ok(!(await client.list()).models.some((m) => m.name === 'tinystories-260k:f32'));
  await assert.rejects(client.delete({ model: 'tinystories-260k:f32' }), (err) => err.status_code === 404);
  await assert.rejects(client.pull({ model: 'no-such-model', stream: false }), (err) => err.status_code === 404);
});
