#!/usr/bin/env node
// Load generator for an OpenAI-compatible server (hearth serve, llama-server, ...).
//
//   node bench/load.mjs --url http://127.0.0.1:8000 [--model ID] [--streams 1,4,16]
//        [--requests-per-stream 3] [--max-tokens 64] [--prompt-tokens 70] [--rounds 1]
//        [--same-prompt] [--json]
//
// For each concurrency level it runs that many streaming clients at once, each sending
// requests back to back, and reports aggregate generated tokens per second, the mean
// per-stream decode speed (tokens after the first / time after the first) and the median
// and p95 time to first token. Tokens are counted from the usage chunk the server sends.
// Every request stops by itself (max_tokens); the run is bounded by streams x requests.
//
// Fairness (many users): per stream, the tokens it received, its decode speed and the time it
// took for all its requests (min / median / max over the streams), and the longest TTFT; a
// stream the scheduler starved stands out in the max columns. A request that fails (HTTP
// error, error event, dropped connection) is counted and its first messages printed; the run
// goes on.
//
// --rounds K runs the list of levels K times in turn and reports each level over all its
// rounds (tokens over summed wall time; TTFT over all its requests): on a machine whose
// speed drifts, levels measured minutes apart are not comparable, levels taken in turn are.

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
const rounds = Number(args.rounds ?? 1);
const asJson = args.json === 'true';

// A prompt of `promptWords` common English words, one token each in the usual BPE
// vocabularies (70 words: a 70-token message, plus the chat template). Each request draws its
// words from a generator seeded by its number and the run's seed, so that no request replays
// a prompt the server has cached (from an earlier level, round or run) beyond the template's
// shared head and a word or two, as distinct users' requests would; --same-prompt sends one
// prompt throughout (the fully cached case).
const runSeed = Math.floor(Math.random() * 2 ** 31);
let requestCount = 0;
const words = 'the quick brown fox jumps over a lazy dog while local models answer fast'.split(' ');
function prompt(i) {
  let state = args['same-prompt'] ? 1 : (runSeed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  const next = () => {  // xorshift32
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state;
  };
  const out = [];
  for (let k = 0; k < promptWords; k++) out.push(words[next() % words.length]);
  return out.join(' ');
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
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// One round of one level: its requests, each stream's totals, failures and its wall time.
async function runLevel(model, streams) {
  const results = [];
  const failures = [];
  const start = performance.now();
  const perStreamTotals = await Promise.all(Array.from({ length: streams }, async () => {
    let tokens = 0;
    let decode = 0;
    for (let r = 0; r < perStream; r++) {
      try {
        const result = await oneRequest(model, requestCount++);
        results.push(result);
        tokens += result.tokens;
        decode += result.decode;
      } catch (err) {
        failures.push(String(err.message ?? err));
      }
    }
    return { tokens, seconds: (performance.now() - start) / 1000,
             decode_tps: tokens > perStream && decode > 0 ? (tokens - perStream) / decode : 0 };
  }));
  return { results, failures, streams: perStreamTotals, wall: (performance.now() - start) / 1000 };
}

const spread = (values) => ({ min: Math.min(...values), median: quantile(values, 0.5),
                              max: Math.max(...values) });

function summarize(streams, runs) {
  const results = runs.flatMap((run) => run.results);
  const wall = runs.reduce((s, run) => s + run.wall, 0);
  const tokens = results.reduce((s, r) => s + r.tokens, 0);
  const perStreamTps = results.map((r) => (r.tokens > 1 && r.decode > 0 ? (r.tokens - 1) / r.decode : 0));
  return {
    streams,
    requests: results.length,
    rounds: runs.length,
    aggregate_tokens_per_second: tokens / wall,
    per_stream_tokens_per_second: perStreamTps.reduce((s, v) => s + v, 0) / perStreamTps.length,
    ttft_median_s: quantile(results.map((r) => r.ttft), 0.5),
    ttft_p95_s: quantile(results.map((r) => r.ttft), 0.95),
    ttft_max_s: Math.max(...results.map((r) => r.ttft)),
    failed_requests: runs.reduce((s, run) => s + run.failures.length, 0),
    failure_samples: [...new Set(runs.flatMap((run) => run.failures))].slice(0, 3),
    // Over the streams of every round: a starved stream shows in min tokens, min speed or max
    // seconds.
    stream_tokens: spread(runs.flatMap((run) => run.streams.map((s) => s.tokens))),
    stream_decode_tps: spread(runs.flatMap((run) => run.streams.map((s) => s.decode_tps))),
    stream_seconds: spread(runs.flatMap((run) => run.streams.map((s) => s.seconds))),
    round_aggregates: runs.map((run) => run.results.reduce((s, r) => s + r.tokens, 0) / run.wall),
  };
}

const model = await modelId();
const runs = new Map(streamsList.map((streams) => [streams, []]));
for (let round = 0; round < rounds; round++) {
  for (const streams of streamsList) runs.get(streams).push(await runLevel(model, streams));
}
const report = streamsList.map((streams) => summarize(streams, runs.get(streams)));
if (asJson) {
  console.log(JSON.stringify({ url, model, max_tokens: maxTokens, prompt_words: promptWords, results: report }));
} else {
  console.log(`model ${model}, ${maxTokens} new tokens, ~${promptWords}-word prompts` +
    (rounds > 1 ? `, ${rounds} rounds in turn` : ''));
  console.log('streams  aggregate tok/s  per-stream tok/s  TTFT median  TTFT p95');
  for (const r of report) {
    console.log(`${String(r.streams).padStart(7)}  ${r.aggregate_tokens_per_second.toFixed(1).padStart(15)}  ` +
      `${r.per_stream_tokens_per_second.toFixed(1).padStart(16)}  ${r.ttft_median_s.toFixed(3).padStart(10)}s  ${r.ttft_p95_s.toFixed(3).padStart(7)}s`);
  }
  const mmm = (x, digits) => `${x.min.toFixed(digits)} / ${x.median.toFixed(digits)} / ${x.max.toFixed(digits)}`;
  console.log('per stream (min / median / max):');
  console.log('streams  failed  tokens            decode tok/s        seconds                 TTFT max');
  for (const r of report) {
    console.log(`${String(r.streams).padStart(7)}  ${String(r.failed_requests).padStart(6)}  ` +
      `${mmm(r.stream_tokens, 0).padEnd(16)}  ${mmm(r.stream_decode_tps, 1).padEnd(18)}  ` +
      `${mmm(r.stream_seconds, 2).padEnd(22)}  ${r.ttft_max_s.toFixed(3)}s`);
    for (const f of r.failure_samples) console.log(`         failure: ${f}`);
  }
}
