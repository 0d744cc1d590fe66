#!/usr/bin/env node
// Load generator for an OpenAI-compatible server (hearth serve, llama-server, ...).
//
//   node bench/load.mjs --url http://127.0.0.1:8000 [--model ID] [--streams 1,4,16]
//        [--requests-per-stream 3] [--max-tokens 64] [--prompt-tokens 70] [--json]
//
// For each concurrency level it runs that many streaming clients at once, each sending
// requests back to back, and reports aggregate generated tokens per second, the mean
// per-stream decode speed (tokens after the first / time after the first) and the median
// and p95 time to first token. Tokens are counted from the usage chunk the server sends.
// Every request stops by itself (max_tokens); the run is bounded by streams x requests.

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]?.startsWith('--') || all[i + 1] === undefined ? 'true' : all[i + 1]]);
    return pairs;
  }, []),
);
const url = (args.url ?? 'http://127.0.0.1:8000').replace(/\/$/, '');
const streamsList = (args.streams ?? '1,4,16').split(',').map(Number);
const perStream = Number(args['requests-per-stream'] ?? 3);
const maxTokens = Number(args['max-tokens'] ?? 64);
const promptWords = Number(args['prompt-tokens'] ?? 70);
const asJson = args.json === 'true';

// A prompt of roughly `promptWords` tokens; the index varies it per request so that runs do
// not just replay a cached prefix (set --same-prompt to measure the cached case).
const words = 'the quick brown fox jumps over a lazy dog while local models answer fast'.split(' ');
function prompt(i) {
  const out = [];
  for (let k = 0; out.length < promptWords; k++) out.push(words[(k + i) % words.length]);
  return (args['same-prompt'] ? '' : `Request ${i}. `) + out.join(' ');
}

async function modelId() {
  if (args.model) return args.model;
  const res = await fetch(`${url}/v1/models`);
  const body = await res.json();
  return body.data[0].id;
}

async function oneRequest(model, i) {
  const start = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      model, stream: true, stream_options: { include_usage: true }, max_tokens: maxTokens,
      temperature: 0.7, seed: i, ignore_eos: true,
      messages: [{ role: 'user', content: prompt(i) }],
    }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let first = null;
  let tokens = 0;
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const data = JSON.parse(event.slice(6));
      if (data.error) throw new Error(data.error.message);
      if (data.usage) tokens = data.usage.completion_tokens;
      if (first === null && data.choices?.[0]?.delta?.content) first = performance.now();
    }
  }
  const end = performance.now();
  return { ttft: ((first ?? end) - start) / 1000, total: (end - start) / 1000,
           decode: (end - (first ?? end)) / 1000, tokens };
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function level(model, streams) {
  const results = [];
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: streams }, async () => {
    for (let r = 0; r < perStream; r++) results.push(await oneRequest(model, next++));
  }));
  const wall = (performance.now() - start) / 1000;
  const tokens = results.reduce((s, r) => s + r.tokens, 0);
  const perStreamTps = results.map((r) => (r.tokens > 1 && r.decode > 0 ? (r.tokens - 1) / r.decode : 0));
  return {
    streams,
    requests: results.length,
    aggregate_tokens_per_second: tokens / wall,
    per_stream_tokens_per_second: perStreamTps.reduce((s, v) => s + v, 0) / perStreamTps.length,
    ttft_median_s: quantile(results.map((r) => r.ttft), 0.5),
    ttft_p95_s: quantile(results.map((r) => r.ttft), 0.95),
  };
}

const model = await modelId();
const report = [];
for (const streams of streamsList) report.push(await level(model, streams));
if (asJson) {
  console.log(JSON.stringify({ url, model, max_tokens: maxTokens, prompt_words: promptWords, results: report }));
} else {
  console.log(`model ${model}, ${maxTokens} new tokens, ~${promptWords}-word prompts`);
  console.log('streams  aggregate tok/s  per-stream tok/s  TTFT median  TTFT p95');
  for (const r of report) {
    console.log(`${String(r.streams).padStart(7)}  ${r.aggregate_tokens_per_second.toFixed(1).padStart(15)}  ` +
      `${r.per_stream_tokens_per_second.toFixed(1).padStart(16)}  ${r.ttft_median_s.toFixed(3).padStart(10)}s  ${r.ttft_p95_s.toFixed(3).padStart(7)}s`);
  }
}
