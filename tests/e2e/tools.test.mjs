// Tool calls through the official openai client. The tiny models have random weights, so the
// calls come from tool_choice "required" / a named function, whose decoding is constrained to
// a valid call, or from tool_choice "auto" with a logit bias on the call marker (the call the
// model opens is constrained): the reply shapes (streaming and not) are what is checked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, model } from './harness.mjs';

let server;
let client;

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', enum: ['Paris', 'Oslo'] },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['city', 'unit'],
    },
  },
};
const timeTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: {} } },
};
const question = [{ role: 'user', content: 'What is the weather in Paris?' }];

before(async () => {
  server = await startServer([
    '-m', model('tiny-qwen2-q8_0.gguf'), '--alias', 'qwen',
    '-m', model('tiny-llama3-q8_0.gguf'), '--alias', 'llama3',
    '--parallel', '1', '--ctx-size', '2048',
  ]);
  client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
});

function checkWeatherCall(call) {
  assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.ok(['Paris', 'Oslo'].includes(args.city), call.function.arguments);
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit), call.function.arguments);
}

for (const alias of ['qwen', 'llama3']) {
  test(`${alias}: tool_choice required gives one valid call, not streaming`, async () => {
    const r = await client.chat.completions.create({
      model: alias, messages: question, tools: [weatherTool], tool_choice: 'required',
      max_tokens: 200, temperature: 0,
    });
    const choice = r.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    checkWeatherCall(choice.message.tool_calls[0]);
  });

  test(`${alias}: a named function streams its call as OpenAI's deltas`, async () => {
    const request = {
      model: alias, messages: question, tools: [timeTool, weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 200, temperature: 0,
    };
    const whole = await client.chat.completions.create(request);
    const expected = whole.choices[0].message.tool_calls[0];
    checkWeatherCall(expected);

    const stream = await client.chat.completions.create({ ...request, stream: true });
    const deltas = [];
    let finish = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      const c = chunk.choices[0];
      if (c.delta.tool_calls) deltas.push(...c.delta.tool_calls);
      if (c.delta.content) assert.fail(`no content expected, got ${c.delta.content}`);
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(finish, 'tool_calls');
    assert.ok(deltas.length >= 1);
    const first = deltas[0];
    assert.equal(first.index, 0);
    assert.match(first.id, /^call_/);
    assert.equal(first.type, 'function');
    assert.equal(first.function.name, 'get_weather');
    assert.equal(first.function.arguments, '');
    for (const later of deltas.slice(1)) {
      assert.equal(later.index, 0);
      assert.equal(later.id, undefined);
      assert.equal(later.function.name, undefined);
    }
    const args = deltas.map((d) => d.function.arguments).join('');
    assert.equal(args, expected.function.arguments, 'same arguments as the non-streaming reply');
  });
}

// tool_choice auto: a logit bias on the family's call marker makes the random model open a
// call at once; from the marker on, the call is constrained, so it is valid whatever the
// weights. parallel_tool_calls false ends the reply with that one call. (Only Qwen: the tiny
// Llama 3 fixture's vocabulary has no <|python_tag|> token to bias; its syntax is unit-tested.)
const callMarker = { qwen: 151657 /* <tool_call> */ };

function checkAnyCall(call) {
  if (call.function.name === 'get_weather') return checkWeatherCall(call);
  assert.equal(call.function.name, 'get_time');
  assert.deepEqual(JSON.parse(call.function.arguments), {});
}

for (const alias of Object.keys(callMarker)) {
  test(`${alias}: tool_choice auto constrains the call the model opens`, async () => {
    const request = {
      model: alias, messages: question, tools: [timeTool, weatherTool], tool_choice: 'auto',
      parallel_tool_calls: false, logit_bias: { [callMarker[alias]]: 100 },
      max_tokens: 200, temperature: 0,
    };
    const whole = await client.chat.completions.create(request);
    const choice = whole.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    checkAnyCall(choice.message.tool_calls[0]);

    const stream = await client.chat.completions.create({ ...request, stream: true });
    const deltas = [];
    let finish = null;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (c.delta.tool_calls) deltas.push(...c.delta.tool_calls);
      if (c.delta.content) assert.fail(`no content expected, got ${c.delta.content}`);
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(deltas[0].function.name, choice.message.tool_calls[0].function.name);
    assert.equal(deltas[0].function.arguments, '');
    assert.equal(deltas.map((d) => d.function.arguments).join(''),
      choice.message.tool_calls[0].function.arguments);
  });
}

test('tool_choice auto: a call cut by max_tokens is content, finish_reason length', async () => {
  const r = await client.chat.completions.create({
    model: 'qwen', messages: question, tools: [weatherTool], tool_choice: 'auto',
    logit_bias: { [callMarker.qwen]: 100 }, max_tokens: 5, temperature: 0,
  });
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.choices[0].message.tool_calls, undefined);
  assert.ok(r.choices[0].message.content.startsWith('<tool_call>'), r.choices[0].message.content);
});

test('tool_choice none: a plain reply, no calls', async () => {
  const r = await client.chat.completions.create({
    model: 'qwen', messages: question, tools: [weatherTool], tool_choice: 'none',
    max_tokens: 8, temperature: 0,
  });
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.equal(r.choices[0].message.tool_calls, undefined);
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
});

test('the call and its result render on the next turn', async () => {
  for (const alias of ['qwen', 'llama3']) {
    const r = await client.chat.completions.create({
      model: alias,
      tools: [weatherTool],
      messages: [
        ...question,
        {
          role: 'assistant', content: null,
          tool_calls: [{ id: 'call_1', type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: '18 degrees' }] },
      ],
      max_tokens: 4, temperature: 0,
    });
    assert.ok(r.usage.prompt_tokens > 20, alias);
  }
});

test('bad tool input is a 400 naming the field', async () => {
  const cases = [
    [{ tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'nope' } } },
      'tool_choice.function.name'],
    [{ tools: [weatherTool], tool_choice: 'always' }, 'tool_choice'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 7 } } }] },
      'tools[0].function.parameters'],
    [{ messages: [...question, { role: 'tool', tool_call_id: 'call_x', content: 'hi' }] },
      'messages[1].tool_call_id'],
  ];
  for (const [extra, param] of cases) {
    await assert.rejects(
      client.chat.completions.create({ model: 'qwen', messages: question, max_tokens: 4, ...extra }),
      (e) => e.status === 400 && e.error?.param === param,
      param,
    );
  }
});
