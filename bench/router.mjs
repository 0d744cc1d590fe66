// Router benchmark (issue 15): the time to first token the router adds in front of a remote
// target on loopback, and N concurrent streams through a route to a slow upstream (errors,
// duration, the gateway's peak resident memory). A benchmark, not a test: it prints JSON.
//
//   node bench/router.mjs [--requests 200] [--concurrent 512] [--binary build/hearth]
//
// Uses the fault-injecting mock of tests/e2e (plain Node, no npm packages needed).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { startMock } from '../tests/e2e/openai_mock.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const requests = Number(arg('requests', 200));
const concurrent = Number(arg('concurrent', 512));
const binary = arg('binary', path.resolve('build/hearth'));

async function freePort() {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}

// Time to the first content chunk of one streamed chat completion, in ms.
async function ttft(baseURL, model) {
  const t0 = performance.now();
  const res = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let first = -1;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (first < 0 && text.includes('"content":"w')) first = performance.now() - t0;
  }
  if (res.status !== 200 || !text.includes('[DONE]')) throw new Error(`bad stream: ${res.status} ${text.slice(0, 200)}`);
  return first;
}

const p50 = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024;
}

const fast = await startMock({ model: 'gpt-mock', chunks: 4, chunkDelayMs: 0 });
const slow = await startMock({ model: 'gpt-mock', chunks: 20, chunkDelayMs: 100 });
slow.requests = { push() {}, length: 0 };
fast.requests = { push() {}, length: 0 };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-router-bench-'));
fs.writeFileSync(path.join(dir, 'router.toml'), `
[[target]]
name = "fast"
kind = "openai"
base_url = "${fast.url}"
model = "gpt-mock"

[[target]]
name = "slow"
kind = "openai"
base_url = "${slow.url}"
model = "gpt-mock"

[[route]]
name = "fast"
policy = "cloud-only"
targets = ["fast"]

[[route]]
name = "slow"
policy = "cloud-only"
targets = ["slow"]

[fallback]
first_token_timeout_ms = 60000
`);
const port = await freePort();
const hearth = spawn(binary, ['serve', '--port', String(port), '--router', path.join(dir, 'router.toml')],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, HEARTH_HOME: dir } });
const gateway = `http://127.0.0.1:${port}/v1`;
for (let i = 0; ; i += 1) {
  try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break; } catch { /* starting */ }
  if (i > 200) throw new Error('hearth serve did not start');
  await new Promise((r) => setTimeout(r, 50));
}

const result = { requests, concurrent };
try {
  // Warm both paths, then alternate so that drift affects both alike.
  for (let i = 0; i < 10; i += 1) { await ttft(fast.url, 'gpt-mock'); await ttft(gateway, 'fast'); }
  const direct = [];
  const routed = [];
  for (let i = 0; i < requests; i += 1) {
    direct.push(await ttft(fast.url, 'gpt-mock'));
    routed.push(await ttft(gateway, 'fast'));
  }
  result.ttft_p50_direct_ms = +p50(direct).toFixed(3);
  result.ttft_p50_routed_ms = +p50(routed).toFixed(3);
  result.ttft_p50_added_ms = +(p50(routed) - p50(direct)).toFixed(3);

  let peak = rssMiB(hearth.pid);
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(hearth.pid)); }, 50);
  const t0 = performance.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: concurrent }, () => ttft(gateway, 'slow')));
  clearInterval(sampler);
  result.concurrent_seconds = +((performance.now() - t0) / 1000).toFixed(2);
  result.concurrent_errors = outcomes.filter((o) => o.status === 'rejected').length;
  if (result.concurrent_errors) result.first_error = String(outcomes.find((o) => o.status === 'rejected').reason);
  result.gateway_peak_rss_mib = +peak.toFixed(1);
} finally {
  hearth.kill('SIGTERM');
  await fast.close();
  await slow.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(result, null, 2));
