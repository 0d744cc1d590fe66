// Qwen3's thinking switch end to end, on tiny-qwen3-f16 (random weights, Qwen3's real chat
// template). What the random weights say does not matter: the template path is read from the
// prompt's token count (enable_thinking false adds an empty "<think>\n\n</think>\n\n" block,
// four tokens), and the reasoning parser is driven by a logit_bias that makes every generated
// token <think>. (Ollama's options carry no logit_bias: its message.thinking is checked on
// the translation in ollama_translate_test.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, model, hearthBinary } from './harness.mjs';

const qwen3 = model('tiny-qwen3-f16.gguf');
let split;  // default --reasoning-format (deepseek): <think> text goes to reasoning_content
let inline; // --reasoning-format none: it stays in the content

before(async () => {
  split = await startServer(['-m', qwen3, '--alias', 'qwen3', '--parallel', '1']);
  inline = await startServer(['-m', qwen3, '--alias', 'qwen3', '--parallel', '1',
    '--reasoning-format', 'none']);
});

after(async () => {
  assert.equal(await split.stop(), 0);
  assert.equal(await inline.stop(), 0);
});

// The id of one token text in the model's vocabulary, from `hearth tokenize`.
function tokenId(text) {
  const { ids } = JSON.parse(execFileSync(hearthBinary, ['tokenize', '-m', qwen3, text]).toString());
  assert.equal(ids.length, 1, `${text} is one token`);
  return ids[0];
}

async function post(server, path, body) {
  const res = await fetch(server.baseURL + path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return text;
}

const messages = [{ role: 'user', content: 'What is 2+2?' }];

test('enable_thinking false renders the empty think block; Ollama think maps to it', async () => {
  const promptTokens = async (extra) => JSON.parse(await post(split, '/v1/chat/completions',
    { model: 'qwen3', messages, max_tokens: 1, temperature: 0, ...extra })).usage.prompt_tokens;
  const plain = await promptTokens({});
  const thinking = await promptTokens({ chat_template_kwargs: { enable_thinking: true } });
  const direct = await promptTokens({ chat_template_kwargs: { enable_thinking: false } });
  assert.equal(thinking, plain, 'thinking is the template default');
  assert.equal(direct, plain + 4, '<think> \\n\\n </think> \\n\\n after the generation prompt');

  const ollamaPrompt = async (think) => JSON.parse(await post(split, '/api/chat',
    { model: 'qwen3', messages, stream: false, think, options: { num_predict: 1, temperature: 0 } }))
    .prompt_eval_count;
  assert.equal(await ollamaPrompt(false), direct);
  assert.equal(await ollamaPrompt(true), plain);
});

test('generated <think> text goes to reasoning_content, whole and streamed', async () => {
  const think = tokenId('<think>');
  const request = {
    model: 'qwen3', messages, max_tokens: 4, temperature: 0, logit_bias: { [think]: 100 },
  };
  const whole = JSON.parse(await post(split, '/v1/chat/completions', request));
  const message = whole.choices[0].message;
  // The first <think> opens the block; the three after it are its text.
  assert.equal(message.reasoning_content, '<think><think><think>');
  assert.ok(!message.content, `no content outside the block: ${JSON.stringify(message.content)}`);
  assert.equal(whole.choices[0].finish_reason, 'length');

  const sse = await post(split, '/v1/chat/completions', { ...request, stream: true });
  let reasoning = '';
  let content = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const delta = JSON.parse(line.slice(6)).choices[0]?.delta ?? {};
    reasoning += delta.reasoning_content ?? '';
    content += delta.content ?? '';
  }
  assert.equal(reasoning, message.reasoning_content);
  assert.equal(content, '');

  // --reasoning-format none keeps the block in the content.
  const kept = JSON.parse(await post(inline, '/v1/chat/completions', request));
  assert.equal(kept.choices[0].message.content, '<think><think><think><think>');
  assert.equal(kept.choices[0].message.reasoning_content, undefined);
});
