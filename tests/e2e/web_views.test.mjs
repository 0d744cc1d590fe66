// The web app's views in a real browser (Debian's chromium, headless, through puppeteer-core):
// the nav bar and the URL (links, back/forward, direct URLs), the Models view against a
// server with a catalog served by a local stand-in hub (download with its progress bar, load,
// unload, the memory meter, a router route), and the Documents view (a collection, an upload,
// then a grounded chat whose [1] opens the cited passage, kept across a reload). axe-core on
// each view; screenshots at desktop and phone width go to build/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { axeCheck, launchBrowser, openPage, screenshots as shots } from './browser.mjs';
import { startServerWithHub, model } from './harness.mjs';
import { startMock } from './openai_mock.mjs';

const desktop = { width: 1200, height: 800 };
const phone = { width: 390, height: 844, isMobile: true, hasTouch: true };
// The same width for a page already open: changing isMobile would reload it.
const narrow = { width: 390, height: 844 };

const KEYS_MD = '# Keys\n\nRotate the signing keys every month with `hearth keys rotate`.\n\n'
  + '# Backups\n\nBackups are written nightly to the archive volume.\n';
// The tiny story model writes gibberish: the test makes it answer with a citation by adding
// this response_format to the app's request on its way out (the app's own fields untouched).
const forcedReply = {
  type: 'json_schema',
  json_schema: {
    name: 'answer',
    schema: {
      type: 'object',
      properties: { a: { type: 'string', enum: ['Rotate them monthly [1].'] } },
      required: ['a'],
    },
  },
};

let stack;
let server;
let browser;
let mock;
let dir;

before(async () => {
  mock = await startMock({ model: 'cloud-mock' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-web-views-'));
  fs.writeFileSync(path.join(dir, 'router.toml'),
    `[[target]]\nname = "cloud"\nkind = "openai"\nbase_url = "${mock.url}"\nmodel = "m"\n`
    + '[[route]]\nname = "cloud-route"\npolicy = "cloud-only"\ntargets = ["cloud"]\n');
  stack = await startServerWithHub('web-views', ['-m', model('stories260K.gguf'), '--alias', 'story',
    '--ctx-size', '512', '--rag-embed', 'none', '--router', path.join(dir, 'router.toml')]);
  server = stack.server;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (stack) assert.equal(await stack.stop(), 0);
  await mock?.close?.();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const openApp = (url, viewport) => openPage(browser, server.baseURL, url, viewport);

// Which view is on screen: the one visible <main>, the URL and the nav link marked current.
const shown = (page) => page.evaluate(() => ({
  mains: [...document.querySelectorAll('main')].filter((m) => !m.hidden).map((m) => m.id),
  path: location.pathname,
  current: [...document.querySelectorAll('nav a[aria-current="page"]')].map((a) => a.textContent),
}));

async function waitShown(page, id) {
  await page.waitForFunction((want) => {
    const mains = [...document.querySelectorAll('main')].filter((m) => !m.hidden);
    return mains.length === 1 && mains[0].id === want;
  }, {}, id);
}

test('the nav bar switches views by link, back and forward, and direct URLs open each view', async () => {
  const page = await openApp('/');
  assert.deepEqual(await shown(page), { mains: ['view-chat'], path: '/', current: ['Chat'] });
  await page.click('nav a[data-view="models"]');
  await waitShown(page, 'view-models');
  assert.deepEqual(await shown(page), { mains: ['view-models'], path: '/models', current: ['Models'] });
  // The keyboard reaches the nav: a focused link opens its view with Enter.
  await page.focus('nav a[data-view="documents"]');
  await page.keyboard.press('Enter');
  await waitShown(page, 'view-documents');
  assert.equal((await shown(page)).path, '/documents');
  await page.click('nav a[data-view="compare"]');
  await page.waitForFunction(() => location.pathname === '/compare');
  const compare = await shown(page);
  assert.equal(compare.mains.length, 1, 'one view on screen at /compare');
  assert.deepEqual(compare.current, ['Compare']);
  await page.goBack();
  await waitShown(page, 'view-documents');
  await page.goBack();
  await waitShown(page, 'view-models');
  await page.goForward();
  await waitShown(page, 'view-documents');
  assert.deepEqual((await shown(page)).current, ['Documents']);
  await page.click('nav a[data-view="chat"]');
  await waitShown(page, 'view-chat');
  assert.equal((await shown(page)).path, '/');
  assert.deepEqual(page.errors, []);
  await page.close();

  for (const [url, id, name] of [['/models', 'view-models', 'Models'],
    ['/documents', 'view-documents', 'Documents']]) {
    const direct = await openApp(url);
    await waitShown(direct, id);
    assert.deepEqual((await shown(direct)).current, [name]);
    await direct.close();
  }
});

test('at phone width the header stays one row and every view fits the screen', async () => {
  const page = await openApp('/', phone);
  for (const [link, id] of [['chat', 'view-chat'], ['models', 'view-models'],
    ['documents', 'view-documents'], ['browser', 'view-browser']]) {
    await page.click(`nav a[data-view="${link}"]`);
    await waitShown(page, id);
    const layout = await page.evaluate(() => {
      const bar = document.querySelector('header.topbar');
      const boxes = [...bar.querySelectorAll('nav a, #theme-toggle')]
        .map((e) => e.getBoundingClientRect());
      // One row: each box starts right of the previous one's end, all inside the screen,
      // their vertical middles level.
      const row = boxes.every((b, i) => b.right <= innerWidth
        && (i === 0 || b.left >= boxes[i - 1].right)
        && Math.abs((b.top + b.bottom) / 2 - (boxes[0].top + boxes[0].bottom) / 2) < 4);
      return {
        row,
        height: bar.getBoundingClientRect().height,
        overflow: document.documentElement.scrollWidth > innerWidth,
      };
    });
    assert.ok(layout.row, `${link}: the header's links and button are in one row`);
    assert.ok(layout.height < 56, `${link}: header height ${layout.height}`);
    assert.equal(layout.overflow, false, `${link}: nothing wider than the phone`);
  }
  await page.close();
});

test('Models: the loaded fixture, the memory meter, a route; download with progress, load, unload', async () => {
  const page = await openApp('/models');
  await page.waitForSelector('#loaded-list li[data-model="story"]');
  const meter = await page.$eval('#memory-meter', (m) => ({ value: m.value, max: m.max }));
  assert.ok(meter.value > 0 && meter.max >= meter.value, `meter ${JSON.stringify(meter)}`);
  assert.match(await page.$eval('#memory label', (l) => l.textContent), /MiB used of the .* budget/);
  await page.waitForSelector('#route-list li[data-route="cloud-route"]');
  const row = '#catalog-list li[data-model="tinystories-260k:f32"]';
  await page.waitForSelector(row);
  assert.equal(await page.$eval(row, (li) => li.querySelector('.badge')?.textContent ?? null), null,
    'not cached yet');
  await axeCheck(page, 'models');
  await page.screenshot({ path: path.join(shots, 'models.png') });

  // Every value the progress bar takes is recorded as it happens.
  await page.evaluate(() => {
    window.__progress = [];
    new MutationObserver(() => {
      const bar = document.querySelector('#catalog-list progress');
      if (bar) window.__progress.push(bar.value);
    }).observe(document.getElementById('catalog-list'),
      { subtree: true, childList: true, attributes: true, attributeFilter: ['value'] });
  });
  await page.click(`${row} button[aria-label="Download tinystories-260k:f32"]`);
  await page.waitForSelector(`${row} button[aria-label="Load tinystories-260k:f32"]`);
  const progress = await page.evaluate(() => window.__progress);
  assert.ok(progress.length >= 2, `the bar was shown and moved: ${progress}`);
  assert.equal(progress.at(-1), 100);
  assert.equal(stack.hub.requests, 1);
  assert.equal(await page.$eval(`${row} .badge`, (b) => b.textContent), 'cached');

  const usedBefore = await page.$eval('#memory-meter', (m) => m.value);
  await page.click(`${row} button[aria-label="Load tinystories-260k:f32"]`);
  await page.waitForSelector(`${row} .badge.loaded`);
  await page.waitForSelector('#loaded-list li[data-model="tinystories-260k:f32"]');
  assert.ok(await page.$eval('#memory-meter', (m) => m.value) > usedBefore, 'memory use grew');
  // The chat's model picker offers the newly loaded model.
  assert.ok(await page.$$eval('#model-select option', (o, want) =>
    o.some((x) => x.value === want), 'tinystories-260k:f32'));
  await page.click(`${row} button[aria-label="Unload tinystories-260k:f32"]`);
  await page.waitForFunction((sel) => !document.querySelector(`${sel} .badge.loaded`), {}, row);
  assert.equal(await page.$('#loaded-list li[data-model="tinystories-260k:f32"]'), null);

  // A failing call is a message in the view, as text: the model is unloaded behind the
  // page's back, then its Unload button is pressed.
  await page.click(`${row} button[aria-label="Load tinystories-260k:f32"]`);
  await page.waitForSelector(`${row} .badge.loaded`);
  await page.evaluate(() => fetch('/openai/unload/tinystories-260k:f32'));
  await page.click(`${row} button[aria-label="Unload tinystories-260k:f32"]`);
  await page.waitForSelector('#view-models .view-error[role="alert"]');
  assert.match(await page.$eval('#view-models .view-error', (p) => p.textContent),
    /^Could not unload tinystories-260k:f32: .*tinystories-260k:f32/);
  await page.waitForFunction((sel) => !document.querySelector(`${sel} .badge.loaded`), {}, row);
  await page.setViewport(narrow);
  await page.$eval('#models-title', (h) => h.scrollIntoView());
  await page.screenshot({ path: path.join(shots, 'models-phone.png') });
  // The browser logs the 404 of that unload; nothing else went wrong.
  assert.deepEqual(page.errors.filter((e) => !/status of 404/.test(e)), []);
  await page.close();
});

test('Documents: upload into a collection, chat over it, and a citation opens its passage', async () => {
  const page = await openApp('/documents');
  await page.waitForSelector('#store-list li.empty');
  await page.type('#store-name', 'Handbook <b>');
  await page.click('#store-form button[type="submit"]');
  await page.waitForSelector('#store-list li[data-store]');
  assert.equal(await page.$eval('#store-list .row-name', (b) => b.textContent), 'Handbook <b>');
  const storeId = await page.$eval('#store-list li[data-store]', (li) => li.dataset.store);

  const file = path.join(dir, 'keys.md');
  fs.writeFileSync(file, KEYS_MD);
  const input = await page.$('#upload-input');
  await input.uploadFile(file);
  await page.click('#upload-form button[type="submit"]');
  await page.waitForFunction(() =>
    document.querySelector('#file-list li[data-file] .file-status')?.textContent.startsWith('ready'));
  assert.equal(await page.$eval('#file-list .row-name', (n) => n.textContent), 'keys.md');
  await axeCheck(page, 'documents');
  await page.screenshot({ path: path.join(shots, 'documents.png') });
  await page.setViewport(narrow);
  await page.screenshot({ path: path.join(shots, 'documents-phone.png') });
  await page.setViewport(desktop);

  await page.click(`#store-list li[data-store="${storeId}"] button.primary`);
  await waitShown(page, 'view-chat');
  assert.equal(await page.$eval('#rag-select', (s) => s.value), storeId);

  const sent = [];
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url().endsWith('/v1/chat/completions')) {
      const body = JSON.parse(req.postData());
      sent.push(body);
      req.continue({ postData: JSON.stringify({ ...body, response_format: forcedReply, max_tokens: 160, temperature: 0 }) });
    } else {
      req.continue();
    }
  });
  await page.select('#model-select', 'story');
  await page.click('#composer-input');
  await page.keyboard.type('How do I rotate the signing keys?');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#messages .message.assistant button.cite');
  assert.deepEqual(sent[0].rag, { vector_store_ids: [storeId] });
  await page.screenshot({ path: path.join(shots, 'chat-citation.png') });
  await page.click('#messages .message.assistant button.cite');
  await page.waitForSelector('#cite-dialog[open]');
  const passage = await page.evaluate(() => ({
    where: document.getElementById('cite-where').textContent,
    quote: document.getElementById('cite-quote').textContent,
  }));
  assert.equal(passage.where, 'keys.md');
  assert.match(passage.quote, /Rotate the signing keys every month/);
  await axeCheck(page, 'citation dialog');
  await page.screenshot({ path: path.join(shots, 'chat-citation-dialog.png') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('cite-dialog').open);

  // Saved with the conversation: a reload shows the citation again.
  await page.waitForFunction(() => /^\/c\/conv-/.test(location.pathname));
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#messages .message.assistant button.cite');
  await page.click('#messages .message.assistant button.cite');
  await page.waitForSelector('#cite-dialog[open]');
  assert.match(await page.$eval('#cite-quote', (q) => q.textContent), /Rotate the signing keys/);
  await page.close();
});
