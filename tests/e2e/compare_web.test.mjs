// The web app's Compare page (/compare) in Debian's chromium (headless, puppeteer-core): the
// real stories260K model beside a priced remote route (a mock upstream streaming an answer
// full of HTML) and a failing route; fair and concurrent runs, live figures while streaming,
// the failing pane's error, export as JSON, axe-core. Screenshots: build/screenshots/compare*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { axeCheck, launchBrowser, screenshots as shots } from './browser.mjs';
import { startServer, model } from './harness.mjs';
import { startMock } from './openai_mock.mjs';

const hostile = '<img src=x onerror="window.__xss=1">';

let server;
let browser;
let dir;
const mocks = {};

before(async () => {
  mocks.cloud = await startMock({ model: 'cloud-mock', usage: true, chunkDelayMs: 40,
    words: ['Once ', 'upon ', 'a ', 'time ', hostile, ' there ', 'was ', 'a ', 'cat', '.'] });
  mocks.broken = await startMock({ mode: '500', model: 'broken-mock' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-compare-web-'));
  const target = (name, url, price) =>
    `[[target]]\nname = "${name}"\nkind = "openai"\nbase_url = "${url}"\nmodel = "m"\n${price}\n`
    + `[[route]]\nname = "${name}"\npolicy = "cloud-only"\ntargets = ["${name}"]\n`;
  fs.writeFileSync(path.join(dir, 'router.toml'),
    target('cloud', mocks.cloud.url, 'price_per_mtok = { input = 2.0, output = 8.0 }')
    + target('broken', mocks.broken.url, '') + '[fallback]\ncooldown_s = 0\n');
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--ctx-size', '256', '--router', path.join(dir, 'router.toml')]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0);
  for (const m of Object.values(mocks)) await m.close?.();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const figures = (page, modelId) => page.$eval(`.compare-pane[data-model="${modelId}"]`, (pane) => ({
  mode: pane.querySelector('.compare-mode').textContent,
  where: pane.querySelector('.compare-where').textContent,
  state: pane.querySelector('.compare-result').dataset.state,
  answer: pane.querySelector('.compare-answer').textContent,
  error: pane.querySelector('.compare-error').hidden ? '' : pane.querySelector('.compare-error').textContent,
  ...Object.fromEntries([...pane.querySelectorAll('dd[data-figure]')]
    .map((dd) => [dd.dataset.figure, dd.textContent])),
}));

test('compare three models: both working panes fill with figures, the failing one shows its error', async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(60000);
  await page.setViewport({ width: 1280, height: 900 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.baseURL}/compare`);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.$eval('#view-chat', (m) => m.hidden), true, 'the chat is hidden on /compare');
  assert.equal(await page.$eval('nav a[data-view="compare"]', (a) => a.getAttribute('aria-current')), 'page');
  await page.waitForFunction(() => document.querySelectorAll('#compare-model-0 option').length > 3);
  await axeCheck(page, 'compare form');

  await page.select('#compare-model-0', 'stories');
  await page.select('#compare-model-1', 'cloud');
  await page.select('#compare-model-2', 'broken');
  await page.type('#compare-prompts', 'Once upon a time');
  await page.$eval('#compare-max-tokens', (i) => { i.value = '24'; });
  await page.click('#compare-run');

  // Live: the cloud pane shows its TTFT and a running total while its reply still streams.
  await page.waitForFunction(() => {
    const pane = document.querySelector('.compare-pane[data-model="cloud"] .compare-result');
    return pane?.dataset.state === 'streaming'
      && pane.querySelector('dd[data-figure="ttft"]').textContent !== '—'
      && pane.querySelector('dd[data-figure="gen-tps"]').textContent !== '—';
  }, { polling: 10 });
  await page.screenshot({ path: path.join(shots, 'compare-streaming.png') });
  await page.waitForFunction(() => document.querySelector('#view-compare').dataset.finished === '1');

  const stories = await figures(page, 'stories');
  assert.equal(stories.state, 'done');
  assert.match(stories.mode, /fair/);
  assert.match(stories.where, /this machine/);
  assert.match(stories.ttft, /^\d+ ms$|^[\d.]+ s$/);
  assert.match(stories['prompt-tps'], /^[\d.]+$/);
  assert.match(stories['gen-tps'], /^[\d.]+$/);
  assert.match(stories.tokens, /^\d+ \/ \d+$/);
  assert.equal(stories.cost, '$0.000000');
  assert.ok(stories.answer.trim().length > 0);

  const cloud = await figures(page, 'cloud');
  assert.equal(cloud.state, 'done');
  assert.match(cloud.where, new RegExp(`127\\.0\\.0\\.1:${mocks.cloud.port}`));
  assert.equal(cloud.tokens, '5 / 10');
  assert.equal(cloud.cost, `$${((5 * 2 + 10 * 8) / 1e6).toFixed(6)}`);
  assert.equal(cloud['prompt-tps'], '—');  // a remote reply carries no server timings
  assert.match(cloud['gen-tps'], /^[\d.]+$/);
  assert.ok(cloud.answer.includes(hostile), 'the HTML arrives as text');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.$$eval('.compare-answer img', (n) => n.length), 0);

  const broken = await figures(page, 'broken');
  assert.equal(broken.state, 'error');
  assert.match(broken.error, /mock internal error/);
  await page.screenshot({ path: path.join(shots, 'compare.png'), fullPage: true });
  await axeCheck(page, 'compare results');

  // Export: the JSON the button downloads.
  await page.evaluate(() => {
    window.__blobs = [];
    const create = URL.createObjectURL;
    URL.createObjectURL = (blob) => { window.__blobs.push(blob); return create(blob); };
  });
  await page.click('#compare-export');
  const exported = JSON.parse(await page.evaluate(() => window.__blobs[0].text()));
  assert.equal(exported.object, 'hearth.compare.page');
  assert.equal(exported.mode, 'fair');
  assert.deepEqual(exported.models.map((m) => m.model), ['stories', 'cloud', 'broken']);
  assert.deepEqual(exported.models.map((m) => m.results[0].ok), [true, true, false]);
  assert.ok(exported.models[0].results[0].timings.predicted_per_second > 0);
  assert.equal(exported.models[1].results[0].target, 'cloud');

  // Concurrent: two models at once on a set of two prompts, the mode shown on each pane.
  await page.select('#compare-model-2', '');
  await page.click('#compare-concurrent');
  await page.type('#compare-prompts', '\n---\nLily had a dog');
  await page.click('#compare-run');
  await page.waitForFunction(() => document.querySelector('#view-compare').dataset.finished === '2');
  const again = await Promise.all(['stories', 'cloud'].map((m) => figures(page, m)));
  assert.deepEqual(again.map((f) => [f.state, f.mode]),
    [['done', 'concurrent'], ['done', 'concurrent']]);
  assert.equal(await page.$$eval('.compare-pane', (n) => n.length), 2);
  assert.deepEqual(await page.$$eval('.compare-pane', (panes) => panes.map((p) =>
    [...p.querySelectorAll('.compare-result')].map((r) => r.dataset.state))),
  [['done', 'done'], ['done', 'done']]);
  assert.equal(mocks.cloud.requests.at(-1).body.messages[0].content, 'Lily had a dog');
  assert.deepEqual(errors, []);

  await page.setViewport({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(shots, 'compare-phone.png'), fullPage: true });
  await page.close();
});
