// The hybrid router (docs/router.md) with real processes: `hearth serve --router` in front of
// fault-injecting OpenAI mocks (openai_mock.mjs) and a local fixture model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, model, freePort, waitFor, metric, hearthBinary } from './harness.mjs';
import { startMock } from './openai_mock.mjs';

let server;
let cloud;   // healthy unless a test scripts a fault
let faults;  // every fault target points here; each target has its own cooldown state
let slow;
let r1;
let r2;
let dir;
let client;

function routerToml(deadPort) {
  const remote = (name, url, extra = '') =>
    `[[target]]\nname = "${name}"\nkind = "openai"\nbase_url = "${url}"\nmodel = "gpt-mock"\n${extra}\n`;
  const route = (name, policy, targets, extra = '') =>
    `[[route]]\nname = "${name}"\npolicy = "${policy}"\ntargets = ${JSON.stringify(targets)}\n${extra}\n`;
  return [
    '[[target]]\nname = "local"\nkind = "local"\nmodel = "qwen"\n',
    remote('cloud', cloud.url, 'api_key_env = "ROUTER_TEST_KEY"\nprice_per_mtok = { input = 1.0, output = 2.0 }'),
    ...['c500', 'c429', 'c429d', 'c401', 'chang', 'cmid', 'cbad', 'cjson', 'cping'].map((n) => remote(n, faults.url)),
    remote('slow', slow.url),
    remote('dead', `http://127.0.0.1:${deadPort}/v1`),
    `[[target]]\nname = "pool"\nkind = "openai"\nbase_urls = ["${r1.url}", "${r2.url}"]\nmodel = "gpt-mock"\n`,
    route('auto', 'local-first', ['local', 'cloud'], 'tasks = { code = ["cloud"] }'),
    route('cloudonly', 'cloud-only', ['cloud']),
    route('slowroute', 'cloud-only', ['slow']),
    route('deadfirst', 'cloud-first', ['dead', 'local']),
    route('pool', 'cloud-only', ['pool']),
    ...['c500', 'c429', 'c429d', 'c401', 'chang', 'cmid', 'cbad', 'cjson', 'cping'].map((n) => route(`f-${n}`, 'cloud-first', [n, 'local'])),
    '[privacy]\ndetect = ["email", "phone", "credit_card", "iban", "api_key", "ip_address"]\non_match = "local-only"\n',
    '[fallback]\nfirst_token_timeout_ms = 1500\ncooldown_s = 2\nhealth_check_s = 0\noverload_queue_ms = 1\n',
  ].join('\n');
}

before(async () => {
  cloud = await startMock({ model: 'gpt-mock' });
  faults = await startMock({ model: 'gpt-mock' });
  slow = await startMock({ model: 'gpt-mock', chunks: 200, chunkDelayMs: 100 });
  r1 = await startMock({ model: 'gpt-mock', chunkDelayMs: 60 });
  r2 = await startMock({ model: 'gpt-mock', chunkDelayMs: 60 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-router-'));
  fs.writeFileSync(path.join(dir, 'router.toml'), routerToml(await freePort()));
  server = await startServer(
    // Four slots, so that sixteen requests at once queue long enough for the overload test.
    ['-m', model('tiny-qwen2-q8_0.gguf'), '--alias', 'qwen', '--ctx-size', '512', '--parallel', '4',
      '--router', path.join(dir, 'router.toml')],
    { ROUTER_TEST_KEY: 'sk-test-secret-value-0123456789' },
  );
  client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await server.stop(), 0);
  for (const m of [cloud, faults, slow, r1, r2]) await m.close();
  assert.ok(!server.log().includes('sk-test-secret-value'), 'the API key never reaches the log');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function chat(route, content, { stream = false, headers = {}, maxTokens = 4 } = {}) {
  const res = await fetch(`${server.baseURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ model: route, messages: [{ role: 'user', content }], max_tokens: maxTokens, stream }),
  });
  const text = await res.text();
  return { res, text, json: stream ? null : JSON.parse(text), h: (n) => res.headers.get(n) };
}

const longPrompt = 'tell me a story about the sea and the wind. '.repeat(120);

test('routes are listed in /v1/models beside the local model', async () => {
  const ids = (await client.models.list()).data.map((m) => m.id);
  for (const id of ['qwen', 'auto', 'cloudonly', 'pool']) assert.ok(ids.includes(id), id);
});

test('local-first answers locally and says so in the headers', async () => {
  const before = cloud.requests.length;
  const r = await chat('auto', 'Hello there');
  assert.equal(r.res.status, 200);
  assert.equal(r.h('x-hearth-route'), 'auto');
  assert.equal(r.h('x-hearth-target'), 'local');
  assert.equal(r.h('x-hearth-attempts'), 'local=200');
  assert.equal(r.h('x-hearth-fallback-reason'), null);
  assert.equal(r.json.model, 'qwen');
  assert.equal(cloud.requests.length, before);
});

test('a prompt too long for the local context falls back to the cloud', async () => {
  const r = await chat('auto', longPrompt);
  assert.equal(r.res.status, 200, r.text);
  assert.equal(r.h('x-hearth-target'), 'cloud');
  assert.equal(r.h('x-hearth-attempts'), 'local=context_overflow,cloud=200');
  assert.equal(r.h('x-hearth-fallback-reason'), 'context_overflow');
  assert.equal(r.json.model, 'gpt-mock', 'the model that answered');
  const sent = cloud.requests.at(-1);
  assert.equal(sent.body.model, 'gpt-mock');
  assert.equal(sent.headers.authorization, 'Bearer sk-test-secret-value-0123456789');
});

test('completions route too, locally and to the cloud', async () => {
  const post = (prompt) => fetch(`${server.baseURL}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'auto', prompt, max_tokens: 3 }),
  });
  const local = await post('Once upon a time');
  assert.equal(local.status, 200);
  assert.equal(local.headers.get('x-hearth-target'), 'local');
  assert.equal((await local.json()).object, 'text_completion');
  const before = cloud.requests.length;
  const remote = await post(longPrompt);
  assert.equal(remote.headers.get('x-hearth-attempts'), 'local=context_overflow,cloud=200');
  assert.equal(cloud.requests.at(-1).path, '/v1/completions');
  assert.equal(cloud.requests.length, before + 1);
});

test('a local target with a long queue is overloaded and the cloud takes the rest', async () => {
  await chat('auto', 'warm up', { maxTokens: 8 });  // a measured request duration
  const results = await Promise.all(Array.from({ length: 16 }, () => chat('auto', 'Tell me a long story', { maxTokens: 48 })));
  for (const r of results) assert.equal(r.res.status, 200, r.text);
  const attempts = results.map((r) => r.h('x-hearth-attempts'));
  assert.ok(attempts.includes('local=200'), attempts.join(' '));
  assert.ok(attempts.includes('local=overloaded,cloud=200'), attempts.join(' '));
});

test('the X-Hearth-Task header picks the task chain', async () => {
  const r = await chat('auto', 'Hello there', { headers: { 'X-Hearth-Task': 'code' } });
  assert.equal(r.h('x-hearth-target'), 'cloud');
  assert.equal(r.h('x-hearth-task'), 'code');
  const fenced = await chat('auto', 'Fix this:\n```\nint main() {}\n```');
  assert.equal(fenced.h('x-hearth-task'), 'code');
  assert.equal(fenced.h('x-hearth-target'), 'cloud');
});

test('private requests never reach a remote target', async () => {
  const before = cloud.requests.length;
  const email = await chat('cloudonly', 'Write to jane.doe@example.com about the invoice');
  assert.equal(email.res.status, 503);
  assert.equal(email.json.error.code, 'local_unavailable');
  const header = await chat('auto', longPrompt, { headers: { 'X-Hearth-Privacy': 'local-only' } });
  assert.equal(header.res.status, 503, 'the local model cannot fit it and the cloud may not see it');
  assert.equal(header.json.error.code, 'local_unavailable');
  const card = await chat('auto', `${longPrompt} my card is 4111 1111 1111 1111`);
  assert.equal(card.res.status, 503);
  assert.equal(cloud.requests.length, before, 'not one request reached the cloud mock');
  const local = await chat('auto', 'Call me at +1 415 555 0134 please');
  assert.equal(local.res.status, 200);
  assert.equal(local.h('x-hearth-target'), 'local');
});

test('HTTP 500 falls back, cools the target down, and the next request skips it', async () => {
  faults.script = ['500'];
  const before = faults.requests.length;
  const r = await chat('f-c500', 'Hello');
  assert.equal(r.res.status, 200);
  assert.equal(r.h('x-hearth-attempts'), 'c500=http_500,local=200');
  assert.equal(r.h('x-hearth-fallback-reason'), 'http_500');
  const again = await chat('f-c500', 'Hello');
  assert.equal(again.h('x-hearth-attempts'), 'c500=cooldown,local=200');
  assert.equal(faults.requests.length, before + 1, 'no retry against a cooling target');
  const status = await (await fetch(`${server.baseURL}/v1/router/status`)).json();
  const c500 = status.targets.find((t) => t.name === 'c500');
  assert.equal(c500.health, 'cooling_down');
  assert.match(c500.last_error, /500/);
  assert.ok(c500.fallbacks >= 1);
  // After cooldown_s one probe goes through and, answering, makes the target healthy again.
  await new Promise((r) => setTimeout(r, 2100));
  const probe = await chat('f-c500', 'Hello');
  assert.equal(probe.h('x-hearth-attempts'), 'c500=200');
  const after = await (await fetch(`${server.baseURL}/v1/router/status`)).json();
  assert.equal(after.targets.find((t) => t.name === 'c500').health, 'healthy');
});

test('429 honours Retry-After', async () => {
  faults.script = ['429'];
  faults.retryAfter = 9;
  const r = await chat('f-c429', 'Hello');
  assert.equal(r.h('x-hearth-attempts'), 'c429=http_429,local=200');
  const status = await (await fetch(`${server.baseURL}/v1/router/status`)).json();
  const t = status.targets.find((x) => x.name === 'c429');
  const left = (Date.parse(t.cooldown_until) - Date.now()) / 1000;
  assert.ok(left > 5 && left <= 10, `cooldown follows Retry-After (9 s), not cooldown_s (2 s): ${left}`);
});

test('429 honours Retry-After given as an HTTP date', async () => {
  faults.script = ['429'];
  faults.retryAfter = new Date(Date.now() + 20000).toUTCString();
  try {
    const r = await chat('f-c429d', 'Hello');
    assert.equal(r.h('x-hearth-attempts'), 'c429d=http_429,local=200');
  } finally {
    faults.retryAfter = 7;
  }
  const status = await (await fetch(`${server.baseURL}/v1/router/status`)).json();
  const t = status.targets.find((x) => x.name === 'c429d');
  const left = (Date.parse(t.cooldown_until) - Date.now()) / 1000;
  assert.ok(left > 15 && left <= 21, `cooldown follows the date (~20 s), not cooldown_s (2 s): ${left}`);
});

test('401 cools the target down instead of retrying it on every request', async () => {
  faults.script = ['401', '401', '401'];
  const before = faults.requests.length;
  const first = await chat('f-c401', 'Hello');
  assert.equal(first.h('x-hearth-attempts'), 'c401=http_401,local=200');
  for (let i = 0; i < 3; i += 1) {
    const r = await chat('f-c401', 'Hello');
    assert.equal(r.h('x-hearth-attempts'), 'c401=cooldown,local=200');
  }
  assert.equal(faults.requests.length, before + 1);
  assert.match(server.log(), /refused the API key/);
  faults.script = [];
});

test('an upstream that hangs before the first byte times out and falls back', async () => {
  faults.script = ['hang'];
  const t0 = Date.now();
  const r = await chat('f-chang', 'Hello');
  const elapsed = Date.now() - t0;
  assert.equal(r.h('x-hearth-attempts'), 'chang=timeout,local=200');
  assert.ok(elapsed >= 1400 && elapsed < 6000, `first_token_timeout_ms bounds the wait: ${elapsed}`);
});

test('keep-alive comments without content still time out before the first token', async () => {
  faults.script = ['keepalive'];
  const r = await chat('f-cping', 'Hello', { stream: true });
  assert.equal(r.res.status, 200);
  assert.equal(r.h('x-hearth-attempts'), 'cping=timeout,local=200');
});

test('malformed SSE before the first content falls back; malformed JSON too', async () => {
  faults.script = ['bad_sse'];
  const r = await chat('f-cbad', 'Hello', { stream: true });
  assert.equal(r.res.status, 200);
  assert.equal(r.h('x-hearth-attempts'), 'cbad=bad_reply,local=200');
  assert.match(r.text, /data: \[DONE\]/);
  faults.script = ['bad_json'];
  const j = await chat('f-cjson', 'Hello');
  assert.equal(j.res.status, 200);
  assert.equal(j.h('x-hearth-attempts'), 'cjson=bad_reply,local=200');
});

test('a failure after the first content byte ends the stream with an error event, no splice', async () => {
  faults.script = ['midstream'];
  faults.chunks = 6;
  const r = await chat('f-cmid', 'Hello', { stream: true });
  faults.chunks = 3;
  assert.equal(r.h('x-hearth-target'), 'cmid');
  assert.match(r.text, /"content":"w0 "/);
  assert.match(r.text, /upstream_failed_midstream/);
  assert.ok(!r.text.includes('"model":"qwen"'), 'no local model continues the answer');
  // The openai client surfaces it as an error while iterating.
  faults.script = ['midstream'];
  await new Promise((res) => setTimeout(res, 2100));  // cmid's cooldown
  const stream = await client.chat.completions.create({
    model: 'f-cmid', messages: [{ role: 'user', content: 'Hi' }], stream: true, max_tokens: 4,
  });
  await assert.rejects(async () => { for await (const _ of stream) { /* drain */ } },
    (e) => /after the answer began|closed the stream/.test(e.message));
});

test('a routed request with a wrongly typed field is a 400, not a crash', async () => {
  const res = await fetch(`${server.baseURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }], stream: 'yes', stream_options: 3 }),
  });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('x-hearth-route'), 'auto');
  assert.equal((await fetch(`${server.baseURL}/health`)).status, 200);
});

test('an upstream that is not listening is a connect failure', async () => {
  const r = await chat('deadfirst', 'Hello');
  assert.equal(r.res.status, 200);
  assert.equal(r.h('x-hearth-attempts'), 'dead=connect,local=200');
});

test('remote SSE passes through chunk by chunk to the openai client', async () => {
  const stream = await client.chat.completions.create({
    model: 'cloudonly', messages: [{ role: 'user', content: 'Hi' }], stream: true,
  });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    assert.equal(chunk.model, 'gpt-mock');
    text += chunk.choices[0]?.delta?.content ?? '';
    chunks += 1;
  }
  assert.equal(text, 'w0 w1 w2 ');
  assert.equal(chunks, 5, 'role, three contents, finish: as the upstream sent them');
});

test('the client leaving mid-stream cancels the upstream request', async () => {
  const controller = new AbortController();
  const res = await fetch(`${server.baseURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'slowroute', messages: [{ role: 'user', content: 'Hi' }], stream: true }),
    signal: controller.signal,
  });
  const reader = res.body.getReader();
  await reader.read();
  controller.abort();
  await waitFor(() => slow.aborted === 1, 5000, 'the upstream request to be cancelled');
});

test('replicas: concurrent streams spread by least outstanding requests', async () => {
  const before1 = r1.requests.length;
  const before2 = r2.requests.length;
  const results = await Promise.all(Array.from({ length: 6 }, () => chat('pool', 'Hello', { stream: true })));
  for (const r of results) assert.match(r.text, /\[DONE\]/);
  assert.ok(r1.requests.length - before1 >= 2, 'replica 1 took a share');
  assert.ok(r2.requests.length - before2 >= 2, 'replica 2 took a share');
});

test('replicas: a failed replica is retried on the other, then cooled down', async () => {
  r1.script = ['500'];
  const r = await chat('pool', 'Hello');
  assert.equal(r.res.status, 200);
  assert.equal(r.h('x-hearth-attempts'), 'pool#0=http_500,pool#1=200');
  const next = await chat('pool', 'Hello');
  assert.equal(next.h('x-hearth-attempts'), 'pool#0=cooldown,pool#1=200');
  const status = await (await fetch(`${server.baseURL}/v1/router/status`)).json();
  const pool = status.targets.find((t) => t.name === 'pool');
  assert.equal(pool.replicas[0].health, 'cooling_down');
  assert.equal(pool.replicas[1].health, 'healthy');
});

test('embeddings are routed too', async () => {
  const res = await fetch(`${server.baseURL}/v1/embeddings`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'cloudonly', input: 'hello' }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-hearth-target'), 'cloud');
  const body = await res.json();
  assert.deepEqual(body.data[0].embedding, [0.6, 0.8]);
});

test('/v1/router/status and /metrics show the counters', async () => {
  const status = await (await fetch(`${server.baseURL}/v1/router/status`)).json();
  assert.ok(status.requests > 10);
  assert.ok(status.fallbacks >= 5);
  const c = status.targets.find((t) => t.name === 'cloud');
  assert.ok(c.requests >= 3);
  assert.ok(c.cost_usd > 0, 'price_per_mtok makes a cost');
  assert.ok(c.p50_ttft_ms > 0);
  const pool = status.targets.find((t) => t.name === 'pool');
  assert.equal(pool.replicas.length, 2);
  assert.ok((await metric(server.baseURL, 'hearth_router_requests_total')) > 10);
  const text = await (await fetch(`${server.baseURL}/metrics`)).text();
  assert.match(text, /hearth_router_target_requests_total\{target="c500"\} \d+/);
});

test('a bad router file is refused with its file, line and key', () => {
  const bad = path.join(dir, 'bad.toml');
  const cases = [
    ['[[target]]\nname = "a"\nkind = "local"\nmodel = "m"\ncolour = "red"\n', /bad\.toml:5: target\[0\]\.colour: unknown key/],
    ['[[target]]\nname = "a"\nkind = "local"\nmodel = "m"\n[[route]]\nname = "r"\ntargets = ["b"]\n', /bad\.toml:7: route\[0\]\.targets: unknown target "b"/],
    ['[[target]]\nname = "a"\nkind = "local"\nmodel = "m"\n[[route]]\nname = "r"\ntargets = ["a"]\n[[route]]\nname = "r"\ntargets = ["a"]\n', /bad\.toml:9: route\[1\]\.name: a second route named "r"/],
  ];
  for (const [text, expected] of cases) {
    fs.writeFileSync(bad, text);
    const r = spawnSync(hearthBinary, ['serve', '--port', '0', '--router', bad], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, expected);
  }
});

test('hearth route explain prints the decision without running a model', () => {
  const r = spawnSync(hearthBinary, ['route', 'explain', '--router', path.join(dir, 'router.toml'),
    '--task', 'code', 'my mail is a@b.io'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.equal(plan.route, 'auto');
  assert.equal(plan.task, 'code');
  assert.equal(plan.task_source, 'header');
  assert.deepEqual(plan.privacy_matches, ['email']);
  assert.deepEqual(plan.chain, ['local']);
  assert.deepEqual(plan.skipped, [{ target: 'cloud', reason: 'privacy' }]);
});

test('health checks take a dead replica out of rotation before a request meets it', async () => {
  const live = await startMock({ model: 'gpt-mock' });
  const deadPort = await freePort();
  const file = path.join(dir, 'health.toml');
  fs.writeFileSync(file, `[[target]]\nname = "pool"\nkind = "openai"\nmodel = "gpt-mock"\n`
    + `base_urls = ["http://127.0.0.1:${deadPort}/v1", "${live.url}"]\n`
    + '[[route]]\nname = "pool"\npolicy = "cloud-only"\ntargets = ["pool"]\n'
    + '[fallback]\nhealth_check_s = 1\ncooldown_s = 30\n');
  const gw = await startServer(['--router', file]);
  try {
    await waitFor(async () => {
      const s = await (await fetch(`${gw.baseURL}/v1/router/status`)).json();
      return s.targets[0].replicas[0].health === 'cooling_down';
    }, 5000, 'the dead replica to be cooled down by its health check');
    const status = await (await fetch(`${gw.baseURL}/v1/router/status`)).json();
    assert.match(status.targets[0].replicas[0].last_error, /^health check: /);
    assert.equal(status.targets[0].replicas[1].health, 'healthy');
    const res = await fetch(`${gw.baseURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'pool', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-hearth-attempts'), 'pool#0=cooldown,pool#1=200');
  } finally {
    assert.equal(await gw.stop(), 0);
    await live.close();
  }
});

test('embeddings route too: private inputs stay on the local embedding model', async () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-router-emb-'));
  const written = spawnSync(hearthBinary, [
    'bench', '--synthetic', 'all-minilm-l6-v2', '--type', 'q8_0', '--cache-dir', cache, '--write-only',
  ], { env: { ...process.env }, encoding: 'utf8' });
  assert.equal(written.status, 0, written.stderr);
  const upstream = await startMock({ model: 'text-embedding-mock' });
  const file = path.join(dir, 'emb.toml');
  fs.writeFileSync(file, '[[target]]\nname = "minilm"\nkind = "local"\nmodel = "minilm"\n'
    + `[[target]]\nname = "cloud"\nkind = "openai"\nbase_url = "${upstream.url}"\nmodel = "text-embedding-mock"\n`
    + '[[route]]\nname = "emb"\npolicy = "cloud-first"\ntargets = ["minilm", "cloud"]\n'
    + '[privacy]\ndetect = ["email"]\n');
  const gw = await startServer(['-m', written.stdout.trim(), '--alias', 'minilm', '--router', file]);
  try {
    const gwClient = new OpenAI({ baseURL: `${gw.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const remote = await gwClient.embeddings.create({ model: 'emb', input: 'hello world', encoding_format: 'float' });
    assert.equal(remote.model, 'text-embedding-mock');
    assert.equal(upstream.requests.length, 1);
    const local = await gwClient.embeddings.create({ model: 'emb', input: 'mail me at a.b@example.org' });
    assert.equal(local.model, 'minilm', 'answered by the local model');
    assert.equal(local.data[0].embedding.length, 384, 'base64 (the client default) decodes');
    assert.equal(upstream.requests.length, 1, 'the private input never reached the upstream');
  } finally {
    assert.equal(await gw.stop(), 0);
    await upstream.close();
    fs.rmSync(cache, { recursive: true, force: true });
  }
});

test('$HEARTH_HOME/router.toml is read when --router is not given', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-router-home-'));
  fs.writeFileSync(path.join(home, 'router.toml'), `[[target]]\nname = "cloud"\nkind = "openai"\n`
    + `base_url = "${cloud.url}"\nmodel = "gpt-mock"\napi_key_env = "ROUTER_TEST_UNSET_KEY"\n`
    + '[[route]]\nname = "from-home"\ntargets = ["cloud"]\n');
  const gw = await startServer(['--no-download'], { HEARTH_HOME: home });
  try {
    const ids = (await (await fetch(`${gw.baseURL}/v1/models`)).json()).data.map((m) => m.id);
    assert.deepEqual(ids, ['from-home']);
    assert.match(gw.log(), /\$ROUTER_TEST_UNSET_KEY is not set/);
  } finally {
    assert.equal(await gw.stop(), 0);
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('a local target returns tool calls as the chat route does, streamed and not', async () => {
  const request = {
    model: 'auto',
    messages: [{ role: 'user', content: 'Weather?' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: {
      type: 'object', properties: { city: { type: 'string', enum: ['Oslo', 'Paris'] } }, required: ['city'] } } }],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    max_tokens: 100,
    temperature: 0,
  };
  // `tools` makes the classifier say code, whose chain here is the cloud: ask for chat.
  const options = { headers: { 'X-Hearth-Task': 'chat' } };
  const { data: whole, response } = await client.chat.completions.create(request, options).withResponse();
  assert.equal(response.headers.get('x-hearth-target'), 'local');
  const choice = whole.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls[0].function.name, 'get_weather');
  assert.ok(['Oslo', 'Paris'].includes(JSON.parse(choice.message.tool_calls[0].function.arguments).city));

  let args = '';
  let name;
  let finish;
  for await (const chunk of await client.chat.completions.create({ ...request, stream: true }, options)) {
    const c = chunk.choices[0];
    if (!c) continue;
    for (const call of c.delta.tool_calls ?? []) {
      if (call.function?.name) name = call.function.name;
      args += call.function?.arguments ?? '';
    }
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(name, 'get_weather');
  assert.equal(finish, 'tool_calls');
  assert.equal(args, choice.message.tool_calls[0].function.arguments);
});
