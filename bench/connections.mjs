#!/usr/bin/env node
// How many clients the HTTP front holds, against a running hearth (or any HTTP server):
//
//   node bench/connections.mjs --url http://127.0.0.1:8000 [--half-open 1000]
//        [--idle 10000] [--probes 500] [--streams 1000] [--model ID] [--max-tokens 16]
//        [--pid PID] [--json]
//
// 1. Opens --half-open connections that send half a request header and wait, and --idle
//    keep-alive connections that made one request and stay open; then times --probes
//    `GET /health` requests, one after another on a connection of their own, and reports
//    p50 / p99 / max latency.
// 2. Starts --streams streaming completions at once (model --model, --max-tokens each) and
//    counts how each ended: a full stream ([DONE] seen), a 429/503 with Retry-After, anything
//    else (reset, hang past 120 s, other status) as a failure; with --pid it also reports the
//    server's peak resident memory (VmHWM) from /proc.
// Raise the open-file limit first (`ulimit -n 65536`): each connection is a descriptor on
// both sides.
import net from 'node:net';
import fs from 'node:fs';
import http from 'node:http';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]?.startsWith('--') || all[i + 1] === undefined ? 'true' : all[i + 1]]);
    return pairs;
  }, []),
);
const url = new URL(args.url ?? 'http://127.0.0.1:8000');
const halfOpen = Number(args['half-open'] ?? 1000);
const idle = Number(args.idle ?? 10000);
const probes = Number(args.probes ?? 500);
const streams = Number(args.streams ?? 1000);
const maxTokens = Number(args['max-tokens'] ?? 16);
const model = args.model ?? '';
const pid = args.pid ? Number(args.pid) : 0;
const asJson = args.json === 'true';
const host = url.hostname;
const port = Number(url.port || 80);

function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

// One raw request on a socket, resolved with the reply's head once the whole reply arrived
// (Content-Length framing; /health is small).
function rawGet(socket, path) {
  return new Promise((resolve, reject) => {
    let data = '';
    const onError = (e) => { socket.off('data', onData); reject(e); };
    const onData = (chunk) => {
      data += chunk;
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(data.slice(0, end))?.[1] ?? 0);
      if (data.length >= end + 4 + length) {
        socket.off('data', onData);
        socket.off('error', onError);
        resolve(data.slice(0, end));
      }
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  });
}

async function inBatches(count, batch, make) {
  const out = [];
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    out.push(...(await Promise.all(Array.from({ length: n }, (_, j) => make(i + j)))));
  }
  return out;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function peakRss() {
  if (!pid) return null;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss_mib: kb('VmRSS') / 1024, peak_mib: kb('VmHWM') / 1024 };
}

async function heldConnections() {
  const held = [];
  let refused = 0;
  const halfOpenSockets = await inBatches(halfOpen, 200, async () => {
    const s = await connect();
    s.on('error', () => {});
    s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nContent-Type: appl`);
    return s;
  });
  held.push(...halfOpenSockets);
  const idleSockets = await inBatches(idle, 200, async () => {
    const s = await connect();
    s.on('error', () => {});
    const head = await rawGet(s, '/health');
    if (!/^HTTP\/1\.1 200/.test(head)) refused++;
    return s;
  });
  held.push(...idleSockets);
  const latencies = [];
  let failures = 0;
  const probe = await connect();
  for (let i = 0; i < probes; i++) {
    const start = process.hrtime.bigint();
    const head = await rawGet(probe, '/health');
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (!/^HTTP\/1\.1 200/.test(head)) failures++;
  }
  // And on fresh connections (accept + first request), a tenth as many.
  const fresh = [];
  for (let i = 0; i < Math.max(1, probes / 10); i++) {
    const start = process.hrtime.bigint();
    const s = await connect();
    await rawGet(s, '/health');
    fresh.push(Number(process.hrtime.bigint() - start) / 1e6);
    s.destroy();
  }
  const stillOpen = held.filter((s) => !s.destroyed).length;
  probe.destroy();
  const memory = peakRss();
  for (const s of held) s.destroy();
  latencies.sort((a, b) => a - b);
  fresh.sort((a, b) => a - b);
  return {
    half_open: halfOpen, idle, idle_refused: refused, still_open: stillOpen,
    health_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1), failures },
    health_new_connection_ms: { p50: percentile(fresh, 50), p99: percentile(fresh, 99) },
    memory,
  };
}

function oneStream(body) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { req.destroy(); resolve('hang'); }, 120000);
    const req = http.request({ host, port, path: '/v1/completions', method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        clearTimeout(timer);
        if (res.statusCode === 200) resolve(data.includes('data: [DONE]') ? 'complete' : 'truncated');
        else if ((res.statusCode === 429 || res.statusCode === 503) && res.headers['retry-after']) resolve('busy');
        else resolve(`status_${res.statusCode}`);
      });
      res.on('error', () => { clearTimeout(timer); resolve('reset'); });
    });
    req.on('error', () => { clearTimeout(timer); resolve('reset'); });
    req.end(body);
  });
}

async function manyStreams() {
  const body = JSON.stringify({ model, prompt: 'Once upon a time', max_tokens: maxTokens, stream: true });
  const start = Date.now();
  const outcomes = await Promise.all(Array.from({ length: streams }, () => oneStream(body)));
  const counts = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return { streams, seconds: (Date.now() - start) / 1000, outcomes: counts, memory: peakRss() };
}

const report = {};
if (halfOpen + idle > 0) report.held = await heldConnections();
if (streams > 0) report.streams = await manyStreams();
if (asJson) {
  console.log(JSON.stringify(report, null, 2));
} else {
  if (report.held) {
    const h = report.held;
    console.log(`held: ${h.half_open} half-open + ${h.idle} idle keep-alive (${h.still_open} still open, ${h.idle_refused} refused)`);
    console.log(`GET /health on a kept connection: p50 ${h.health_ms.p50.toFixed(2)} ms, p99 ${h.health_ms.p99.toFixed(2)} ms, max ${h.health_ms.max.toFixed(2)} ms, ${h.health_ms.failures} failed`);
    console.log(`GET /health on a new connection: p50 ${h.health_new_connection_ms.p50.toFixed(2)} ms, p99 ${h.health_new_connection_ms.p99.toFixed(2)} ms`);
    if (h.memory) console.log(`server memory: ${h.memory.rss_mib.toFixed(0)} MiB resident, peak ${h.memory.peak_mib.toFixed(0)} MiB`);
  }
  if (report.streams) {
    const s = report.streams;
    console.log(`${s.streams} streams in ${s.seconds.toFixed(1)} s: ${JSON.stringify(s.outcomes)}`);
    if (s.memory) console.log(`server memory: peak ${s.memory.peak_mib.toFixed(0)} MiB resident`);
  }
}
