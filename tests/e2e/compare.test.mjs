// `hearth compare` end to end: the real stories260K model, a priced remote target (a mock
// upstream, tests/e2e/openai_mock.mjs) whose answer is hostile HTML, and a target that always
// fails. Checks the JSON figures, the HTML report's escaping, and renders the report in
// chromium for a screenshot (build/screenshots/compare-report.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { model, hearthBinary } from './harness.mjs';
import { startMock } from './openai_mock.mjs';

const chromium = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';
const shots = process.env.HEARTH_SCREENSHOTS
  ?? path.join(path.dirname(path.resolve(hearthBinary)), 'screenshots');
const hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

let dir;
const mocks = {};

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-compare-'));
  mocks.cloud = await startMock({ model: 'cloud-mock', usage: true, chunkDelayMs: 2,
    words: ['Once ', 'upon ', 'a ', 'time ', hostile] });
  mocks.broken = await startMock({ mode: '500', model: 'broken-mock' });
  fs.writeFileSync(path.join(dir, 'router.toml'), `
[[target]]
name = "cloud"
kind = "openai"
base_url = "${mocks.cloud.url}"
model = "big"
price_per_mtok = { input = 2.0, output = 8.0 }

[[target]]
name = "broken"
kind = "openai"
base_url = "${mocks.broken.url}"
model = "big"

[[route]]
name = "auto"
policy = "cloud-first"
targets = ["cloud"]

[fallback]
cooldown_s = 0
`);
  fs.writeFileSync(path.join(dir, 'prompts.json'), JSON.stringify([
    'Once upon a time',
    [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: `Lily saw ${hostile}` }],
  ]));
});

after(async () => {
  for (const m of Object.values(mocks)) await m.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function compare(args) {
  const child = spawn(hearthBinary, ['compare', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HEARTH_HOME: path.join(dir, 'home') },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const [code] = await once(child, 'exit');
  return { code, out, err };
}

test('compares a local model, a priced remote target and a failing one', async () => {
  const report = path.join(dir, 'report.html');
  const json = path.join(dir, 'report.json');
  const stories = model('stories260K.gguf');
  const run = await compare(['-m', stories, '-m', 'cloud', '-m', 'broken',
    '--prompts', path.join(dir, 'prompts.json'), '--router', path.join(dir, 'router.toml'),
    '--out', report, '--json', json, '--runs', '2', '--max-tokens', '24', '--ctx-size', '256']);
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /report: /);

  const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.equal(doc.mode, 'fair');
  assert.equal(doc.runs, 2);
  assert.equal(doc.requests.length, 12);
  const [local, cloud, broken] = doc.models;
  assert.deepEqual([local.kind, cloud.kind, broken.kind], ['local', 'remote', 'remote']);

  // The real model: every request answered, with the server's timings.
  const ls = local.summary;
  assert.equal(ls.requests, 4);
  assert.equal(ls.errors, 0, JSON.stringify(ls.error_samples));
  assert.ok(ls.ttft_ms_p50 > 0 && ls.ttft_ms_p50 <= ls.e2e_ms_p50, JSON.stringify(ls));
  assert.ok(ls.ttft_ms_p95 >= ls.ttft_ms_p50 && ls.e2e_ms_p95 >= ls.e2e_ms_p50);
  assert.ok(ls.generation_tps_p50 > 0 && ls.prompt_tps_p50 > 0);
  assert.ok(ls.completion_tokens_mean > 0 && ls.completion_tokens_mean <= 24);
  assert.equal(ls.cost_usd_per_1k_requests, 0);
  assert.deepEqual(ls.destinations, { 'this machine': 4 });
  assert.equal(ls.data_left_machine, false);
  const localRequests = doc.requests.filter((r) => r.model === stories);
  assert.ok(localRequests.every((r) => r.ok && r.generation_tps_source === 'server'
    && r.answer.length > 0 && r.queue_ms >= 0 && r.total_ms >= r.ttft_ms));

  // The remote target: usage from the mock (5 in, 5 out) at $2/$8 per million tokens.
  const cs = cloud.summary;
  assert.equal(cs.errors, 0, JSON.stringify(cs.error_samples));
  assert.ok(Math.abs(cs.cost_usd_per_1k_requests - (5 * 2 + 5 * 8) / 1e6 * 1000) < 1e-12);
  assert.deepEqual(cs.destinations, { [`127.0.0.1:${mocks.cloud.port}`]: 4 });
  assert.equal(cs.data_left_machine, true);
  assert.ok(doc.requests.filter((r) => r.model === 'cloud').every((r) => r.target === 'cloud'
    && r.answer === `Once upon a time ${hostile}` && r.generation_tps_source === 'client'));
  assert.equal(mocks.cloud.requests.length, 4);

  // The failing target: recorded as errors, the others went on.
  assert.equal(broken.summary.errors, 4);
  assert.match(broken.summary.error_samples[0], /mock internal error/);
  assert.equal(broken.summary.ttft_ms_p50, null);

  // Pairwise agreement between the two that answered; the matrix rates all five criteria.
  assert.ok(ls.agreement_f1 >= 0 && ls.agreement_f1 <= 1);
  const rows = Object.fromEntries(doc.decision.matrix.map((r) => [r.criterion, r.cells]));
  assert.deepEqual(Object.keys(rows), ['latency', 'cost', 'privacy', 'capability', 'reliability']);
  assert.equal(rows.privacy[0].rating, 'good');
  assert.equal(rows.privacy[1].rating, 'poor');
  assert.equal(rows.reliability[2].rating, 'poor');
  assert.equal(rows.cost[1].rating, 'fair');
  assert.ok(doc.decision.verdict.length > 0);

  // The report: self-contained and escaped.
  const html = fs.readFileSync(report, 'utf8');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
  assert.ok(!html.includes('<script'), 'no script element');
  assert.ok(!html.includes('<img'), 'no img element');
  assert.ok(html.includes('&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;'));
  assert.match(html, /Decision matrix/);
  assert.match(html, /mock internal error/);
  assert.match(html, /<svg/);

  // Rendered: nothing ran, the matrix is there. The screenshot is for a human to look at.
  assert.ok(fs.existsSync(chromium), `${chromium} not found (scripts/install-deps.sh)`);
  fs.mkdirSync(shots, { recursive: true });
  const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 900 });
    const requests = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(`file://${report}`);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.$$eval('table', (t) => t.length) >= 5, true);
    assert.deepEqual(requests, []);
    await page.screenshot({ path: path.join(shots, 'compare-report.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});

test('concurrent mode is recorded, and a bad prompt file is refused clearly', async () => {
  const prompts = path.join(dir, 'one.json');
  fs.writeFileSync(prompts, '["Once upon a time"]');
  const json = path.join(dir, 'c.json');
  const run = await compare(['-m', model('stories260K.gguf'), '-m', 'cloud', '-m', 'auto', '--concurrent',
    '--prompts', prompts, '--router', path.join(dir, 'router.toml'), '--out',
    path.join(dir, 'c.html'), '--json', json, '--max-tokens', '8', '--ctx-size', '256',
    '--reference', 'cloud']);
  assert.equal(run.code, 0, run.err);
  const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.equal(doc.mode, 'concurrent');
  assert.equal(doc.reference, 'cloud');
  assert.ok(doc.requests.every((r) => r.ok));
  // A route: answered by its remote target, priced and located like it.
  const auto = doc.models[2];
  assert.equal(auto.kind, 'route');
  assert.deepEqual(auto.summary.destinations, { [`127.0.0.1:${mocks.cloud.port}`]: 1 });
  assert.equal(doc.requests[2].target, 'cloud');
  assert.ok(Math.abs(auto.summary.cost_usd_per_1k_requests - 0.05) < 1e-12);
  assert.equal(auto.summary.agreement_f1, 1);  // the same upstream answer as the reference

  fs.writeFileSync(prompts, '["fine", {"role": "user"}]');
  const bad = await compare(['-m', 'cloud', '--prompts', prompts, '--router',
    path.join(dir, 'router.toml'), '--out', path.join(dir, 'x.html')]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /one\.json: prompt 2: must be a string or a list/);
  assert.ok(!fs.existsSync(path.join(dir, 'x.html')));

  const twice = await compare(['-m', 'cloud', '-m', 'cloud', '--prompts', prompts, '--out',
    path.join(dir, 'x.html')]);
  assert.equal(twice.code, 1);
  assert.match(twice.err, /-m cloud is given twice/);

  const missing = await compare(['-m', 'cloud', '--prompts', path.join(dir, 'nope.json'),
    '--out', path.join(dir, 'x.html')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /cannot read .*nope\.json/);
});

test('Ctrl-C ends the run after the request in flight and still writes the report', async () => {
  const prompts = path.join(dir, 'many.json');
  fs.writeFileSync(prompts, '["Once upon a time"]');
  const json = path.join(dir, 'i.json');
  const child = spawn(hearthBinary, ['compare', '-m', model('stories260K.gguf'), '--runs', '100',
    '--prompts', prompts, '--out', path.join(dir, 'i.html'), '--json', json,
    '--max-tokens', '16', '--ctx-size', '256'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HEARTH_HOME: path.join(dir, 'home') },
  });
  let err = '';
  child.stdout.resume();
  const progressed = new Promise((resolve) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (/\[1\/100\]/.test(err)) resolve();
    });
  });
  await progressed;
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, err);
  assert.match(err, /interrupted: finishing the requests in flight/);
  const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.equal(doc.interrupted, true);
  assert.ok(doc.requests.length >= 1 && doc.requests.length < 100, `${doc.requests.length}`);
  assert.ok(doc.requests.every((r) => r.ok));
  assert.match(fs.readFileSync(path.join(dir, 'i.html'), 'utf8'), /Interrupted: the figures cover/);
});
