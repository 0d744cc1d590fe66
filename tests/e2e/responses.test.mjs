// The Responses API (POST /v1/responses, GET/DELETE /v1/responses/{id}) through the official
// openai client: plain and streamed answers, previous_response_id, the store across restarts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, model } from './harness.mjs';

const serverArgs = ['-m', model('tiny-qwen2-q8_0.gguf'), '--alias', 'qwen',
  '--parallel', '2', '--ctx-size', '1024', '--no-download'];

let home;
let server;
let client;

function clientFor(s) {
  return new OpenAI({ baseURL: `${s.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
}

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-responses-'));
  server = await startServer(serverArgs, { HEARTH_HOME: home });
  client = clientFor(server);
});

after(async () => {
  assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
  fs.rmSync(home, { recursive: true, force: true });
});

function checkUsage(r) {
  assert.ok(r.usage.input_tokens > 5, 'the chat template adds its markup');
  assert.ok(r.usage.output_tokens >= 1);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
}

test('create, non-streaming: a message item with output_text, usage and status', async () => {
  const r = await client.responses.create({
    model: 'qwen',
    input: 'Say hello.',
    instructions: 'Be brief.',
    max_output_tokens: 8,
    temperature: 0,
    metadata: { suite: 'e2e' },
  });
  assert.match(r.id, /^resp_/);
  assert.equal(r.object, 'response');
  assert.equal(r.model, 'qwen');
  assert.equal(typeof r.created_at, 'number');
  assert.ok(['completed', 'incomplete'].includes(r.status));
  if (r.status === 'incomplete') {
    assert.equal(r.incomplete_details.reason, 'max_output_tokens');
    assert.equal(r.usage.output_tokens, 8);
  }
  assert.equal(r.output.length, 1);
  const item = r.output[0];
  assert.equal(item.type, 'message');
  assert.equal(item.role, 'assistant');
  assert.equal(item.content[0].type, 'output_text');
  assert.equal(r.output_text, item.content[0].text, 'the SDK joins output_text from output');
  assert.equal(r.instructions, 'Be brief.');
  assert.equal(r.max_output_tokens, 8);
  assert.deepEqual(r.metadata, { suite: 'e2e' });
  assert.equal(r.store, true);
  checkUsage(r);
});

test('create, streaming: the documented events in order, deltas adding up', async () => {
  const stream = await client.responses.create({
    model: 'qwen', input: 'Count to five.', max_output_tokens: 12, temperature: 0, stream: true,
  });
  const events = [];
  for await (const event of stream) events.push(event);
  const types = events.map((e) => e.type);
  assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress',
    'response.output_item.added', 'response.content_part.added']);
  const last = events.at(-1);
  assert.ok(['response.completed', 'response.incomplete'].includes(last.type), last.type);
  assert.deepEqual(types.slice(-4, -1), ['response.output_text.done',
    'response.content_part.done', 'response.output_item.done']);
  events.forEach((e, i) => assert.equal(e.sequence_number, i));
  const deltas = events.filter((e) => e.type === 'response.output_text.delta');
  assert.ok(deltas.length >= 1);
  const text = deltas.map((e) => e.delta).join('');
  assert.equal(events.find((e) => e.type === 'response.output_text.done').text, text);
  assert.equal(events[0].response.status, 'in_progress');
  assert.equal(last.response.output[0].content[0].text, text);
  assert.equal(last.response.id, events[0].response.id);
  checkUsage(last.response);

  // The stored copy is the final Response.
  const stored = await client.responses.retrieve(last.response.id);
  assert.equal(stored.output[0].content[0].text, text);
  assert.equal(stored.status, last.response.status);
});

test('the SDK stream helper accumulates the same events into the final response', async () => {
  const stream = client.responses.stream({
    model: 'qwen', input: 'Hi there', max_output_tokens: 6, temperature: 0,
  });
  let deltas = '';
  let lastType = '';
  stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
  stream.on('event', (e) => { lastType = e.type; });
  const final = await stream.finalResponse();
  assert.equal(final.output[0].content[0].text, deltas);
  assert.match(final.id, /^resp_/);
  if (lastType === 'response.completed') {
    assert.equal(final.status, 'completed');
    checkUsage(final);
  } else {
    // openai 4.104's helper takes the final snapshot only from response.completed; after
    // response.incomplete it keeps the accumulated one.
    assert.equal(lastType, 'response.incomplete');
  }
});

test('previous_response_id continues the stored conversation; a missing id is 404', async () => {
  const first = await client.responses.create({
    model: 'qwen', input: 'My name is Ada.', max_output_tokens: 4, temperature: 0,
  });
  const second = await client.responses.create({
    model: 'qwen', input: 'What is my name?', max_output_tokens: 4, temperature: 0,
    previous_response_id: first.id,
  });
  assert.equal(second.previous_response_id, first.id);
  // The second prompt holds the first turn (its input and output) before the new input.
  assert.ok(second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens,
    `${second.usage.input_tokens} vs ${first.usage.input_tokens}+${first.usage.output_tokens}`);
  const alone = await client.responses.create({
    model: 'qwen', input: 'What is my name?', max_output_tokens: 4, temperature: 0, store: false,
  });
  assert.ok(second.usage.input_tokens > alone.usage.input_tokens);

  await assert.rejects(
    client.responses.create({ model: 'qwen', input: 'x', previous_response_id: 'resp_missing' }),
    (e) => e.status === 404 && e.param === 'previous_response_id' && /resp_missing/.test(e.message));
});

test('retrieve returns the stored response; delete removes it; store:false keeps nothing', async () => {
  const r = await client.responses.create({
    model: 'qwen', input: 'Keep this.', max_output_tokens: 3, temperature: 0,
  });
  const got = await client.responses.retrieve(r.id);
  assert.equal(got.id, r.id);
  assert.deepEqual(got.output, r.output);
  assert.deepEqual(got.usage, r.usage);
  await client.responses.del(r.id);
  await assert.rejects(client.responses.retrieve(r.id), (e) => e.status === 404);
  await assert.rejects(client.responses.del(r.id), (e) => e.status === 404);

  const unstored = await client.responses.create({
    model: 'qwen', input: 'Forget this.', max_output_tokens: 3, store: false,
  });
  assert.equal(unstored.store, false);
  await assert.rejects(client.responses.retrieve(unstored.id), (e) => e.status === 404);
});

test('function_call and function_call_output items are accepted as history', async () => {
  const r = await client.responses.create({
    model: 'qwen',
    tools: [{ type: 'function', name: 'get_weather', description: 'Weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }],
    input: [
      { role: 'user', content: [{ type: 'input_text', text: 'Weather in Oslo?' }] },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '12 C, cloudy' },
    ],
    max_output_tokens: 4,
    temperature: 0,
  });
  assert.ok(['completed', 'incomplete'].includes(r.status));
  assert.equal(r.tools[0].name, 'get_weather');
  assert.ok(r.usage.input_tokens > 20);
});

test('bad input is 400 naming the field', async () => {
  const post = async (body) => {
    const res = await fetch(`${server.baseURL}/v1/responses`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  let r = await post({ model: 'qwen', input: [{ type: 'input_image', image_url: 'x' }] });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.param, 'input[0].type');
  r = await post({ model: 'qwen', input: 'x', max_output_tokens: 'ten' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.param, 'max_output_tokens');
  r = await post({ model: 'qwen', input: 'x', max_output_tokens: 5000000 });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.param, 'max_output_tokens', 'the chat field is named as the client sent it');
  r = await post({ model: 'qwen', input: 'x', temperature: 5 });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.param, 'temperature');
  r = await post({ model: 'qwen' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.param, 'input');
  r = await post({ model: 'nope', input: 'x' });
  assert.equal(r.status, 404);
  const missing = await fetch(`${server.baseURL}/v1/responses/resp_nothing`);
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error.message, /resp_nothing/);
});

test('stored responses survive a restart', async () => {
  const r = await client.responses.create({
    model: 'qwen', input: 'Persist me.', max_output_tokens: 3, temperature: 0,
  });
  assert.equal(await server.stop(), 0);
  server = await startServer(serverArgs, { HEARTH_HOME: home });
  client = clientFor(server);
  const got = await client.responses.retrieve(r.id);
  assert.deepEqual(got.output, r.output);
  const next = await client.responses.create({
    model: 'qwen', input: 'And now?', max_output_tokens: 3, previous_response_id: r.id,
  });
  assert.equal(next.previous_response_id, r.id);

  // --responses-max bounds the store: the next insert drops all but the newest one.
  assert.equal(await server.stop(), 0);
  server = await startServer([...serverArgs, '--responses-max', '1'], { HEARTH_HOME: home });
  client = clientFor(server);
  assert.equal((await client.responses.retrieve(next.id)).id, next.id);
  const newest = await client.responses.create({ model: 'qwen', input: 'Last.', max_output_tokens: 2 });
  assert.equal((await client.responses.retrieve(newest.id)).id, newest.id);
  await assert.rejects(client.responses.retrieve(next.id), (e) => e.status === 404);
  await assert.rejects(client.responses.retrieve(r.id), (e) => e.status === 404);
});

test('a corrupt store file: the server runs, store:false works, store:true is a clear 503', async () => {
  const badHome = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-responses-bad-'));
  fs.writeFileSync(path.join(badHome, 'responses.sqlite'), 'not a database '.repeat(500));
  const bad = await startServer(serverArgs, { HEARTH_HOME: badHome });
  try {
    const c = clientFor(bad);
    assert.match(bad.log(), /responses\.sqlite/);
    const models = await c.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['qwen']);
    const r = await c.responses.create({ model: 'qwen', input: 'hi', max_output_tokens: 2, store: false });
    assert.equal(r.object, 'response');
    await assert.rejects(c.responses.create({ model: 'qwen', input: 'hi', max_output_tokens: 2 }),
      (e) => e.status === 503 && e.code === 'store_unavailable' && /responses\.sqlite/.test(e.message));
    const chat = await c.chat.completions.create({
      model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    assert.equal(chat.object, 'chat.completion');
  } finally {
    assert.equal(await bad.stop(), 0);
    fs.rmSync(badHome, { recursive: true, force: true });
  }
});

// An upstream that answers every chat request with text and two tool calls, as OpenAI's chat
// API sends them (streamed as deltas when asked), recording the chat requests it gets.
async function startToolCallingUpstream() {
  const upstream = { requests: [] };
  upstream.server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const part of req) raw += part;
    const body = JSON.parse(raw || '{}');
    upstream.requests.push(body);
    const base = { id: 'chatcmpl-up', created: 1, model: 'gpt-tools' };
    const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
    if (!body.stream) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({
        ...base, object: 'chat.completion', usage,
        choices: [{ index: 0, finish_reason: 'tool_calls', message: {
          role: 'assistant', content: 'Looking it up.',
          tool_calls: [{ id: 'call_w', type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] } }],
      }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const send = (choices, extra = {}) => res.write(
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`);
    const delta = (d, finish = null) => send([{ index: 0, delta: d, finish_reason: finish }]);
    delta({ role: 'assistant', content: '' });
    delta({ content: 'Looking ' });
    delta({ content: 'it up.' });
    delta({ tool_calls: [{ index: 0, id: 'call_w', type: 'function',
      function: { name: 'get_weather', arguments: '' } }] });
    delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] });
    delta({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] });
    delta({ tool_calls: [{ index: 1, id: 'call_t', type: 'function',
      function: { name: 'get_time', arguments: '{}' } }] });
    delta({}, 'tool_calls');
    if (body.stream_options?.include_usage) send([], { usage });
    res.end('data: [DONE]\n\n');
  });
  upstream.server.listen(0, '127.0.0.1');
  await once(upstream.server, 'listening');
  upstream.url = `http://127.0.0.1:${upstream.server.address().port}/v1`;
  upstream.close = () => new Promise((r) => upstream.server.close(r));
  return upstream;
}

test('chat tool_calls become function_call items, streamed and not (a routed upstream)', async () => {
  const upstream = await startToolCallingUpstream();
  const toolHome = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-responses-tools-'));
  fs.writeFileSync(path.join(toolHome, 'router.toml'), '[[target]]\nname = "up"\nkind = "openai"\n'
    + `base_url = "${upstream.url}"\nmodel = "gpt-tools"\n`
    + '[[route]]\nname = "tools"\npolicy = "cloud-only"\ntargets = ["up"]\n');
  const gw = await startServer(['--no-download'], { HEARTH_HOME: toolHome });
  try {
    const c = clientFor(gw);
    const tools = [{ type: 'function', name: 'get_weather', description: 'Weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }];
    const { data: r, response: raw } = await c.responses.create({ model: 'tools',
      input: 'Weather in Oslo?', tools, max_output_tokens: 50 }).withResponse();
    assert.equal(raw.headers.get('x-hearth-route'), 'tools', 'the router\'s headers are kept');
    assert.equal(r.status, 'completed');
    assert.equal(r.output.length, 2);
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.output_text, 'Looking it up.');
    assert.deepEqual(
      { type: r.output[1].type, call_id: r.output[1].call_id, name: r.output[1].name,
        arguments: r.output[1].arguments },
      { type: 'function_call', call_id: 'call_w', name: 'get_weather', arguments: '{"city":"Oslo"}' });
    // What the chat side was asked: chat-shaped tools, max_tokens.
    const chatRequest = upstream.requests.at(-1);
    assert.deepEqual(chatRequest.tools[0].function.name, 'get_weather');
    assert.equal(chatRequest.max_tokens, 50);

    // The tool's result continues the stored conversation as a tool message.
    await c.responses.create({ model: 'tools', previous_response_id: r.id, tools,
      input: [{ type: 'function_call_output', call_id: 'call_w', output: '12 C' }] });
    const followUp = upstream.requests.at(-1).messages;
    assert.deepEqual(followUp.map((m) => m.role), ['user', 'assistant', 'tool']);
    assert.equal(followUp[1].content, 'Looking it up.');
    assert.equal(followUp[1].tool_calls[0].id, 'call_w');
    assert.deepEqual(followUp[2], { role: 'tool', tool_call_id: 'call_w', content: '12 C' });

    const stream = await c.responses.create({ model: 'tools', input: 'Weather?', tools, stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(events.map((e) => e.type), [
      'response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta',
      'response.function_call_arguments.delta', 'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta',
      'response.function_call_arguments.done', 'response.output_item.done',
      'response.completed']);
    const final = events.at(-1).response;
    assert.equal(final.model, 'gpt-tools');
    assert.deepEqual(final.output.map((o) => o.type), ['message', 'function_call', 'function_call']);
    assert.equal(final.output[1].arguments, '{"city":"Oslo"}');
    assert.equal(final.output[2].name, 'get_time');
    assert.deepEqual(final.usage.total_tokens, 18);
  } finally {
    assert.equal(await gw.stop(), 0);
    await upstream.close();
    fs.rmSync(toolHome, { recursive: true, force: true });
  }
});

// The local model's own tool call (decoding constrained by a named tool_choice) comes back as
// a function_call output item, plain and streamed.
test('a local model named to call a function answers with a function_call item', async () => {
  const tools = [{
    type: 'function', name: 'get_weather', description: 'Weather in a city',
    // An enum keeps a random-weight model's constrained arguments short.
    parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Oslo', 'Paris'] } }, required: ['city'] },
  }];
  const request = {
    model: 'qwen', input: 'Weather in Oslo?', tools, max_output_tokens: 200, temperature: 0,
    tool_choice: { type: 'function', name: 'get_weather' },
  };
  const r = await client.responses.create(request);
  const call = r.output.find((item) => item.type === 'function_call');
  assert.ok(call, `a function_call item: ${JSON.stringify(r.output)}`);
  assert.equal(call.name, 'get_weather');
  assert.match(call.call_id, /^call_/);
  assert.ok(['Oslo', 'Paris'].includes(JSON.parse(call.arguments).city), call.arguments);

  const types = [];
  let args = '';
  let done;
  for await (const event of await client.responses.create({ ...request, stream: true })) {
    types.push(event.type);
    if (event.type === 'response.function_call_arguments.delta') args += event.delta;
    if (event.type === 'response.completed') done = event.response;
  }
  assert.ok(types.includes('response.function_call_arguments.done'), types.join(','));
  const streamed = done.output.find((item) => item.type === 'function_call');
  assert.equal(streamed.name, 'get_weather');
  assert.equal(args, streamed.arguments);
  assert.ok(['Oslo', 'Paris'].includes(JSON.parse(args).city), args);
});
