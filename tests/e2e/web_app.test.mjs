// The web app in a real browser: Debian's chromium (headless) driven by puppeteer-core (which
// never downloads a browser). The real stories260K model answers the plain chat; routes to a
// mock upstream (openai_mock.mjs) give a slow stream to stop, a reply full of HTML, and a
// failing model. Screenshots of each view go to build/screenshots/ (HEARTH_SCREENSHOTS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { axeCheck, launchBrowser, openPage, screenshots as shots } from './browser.mjs';
import { startServer, model } from './harness.mjs';
import { startMock } from './openai_mock.mjs';


let server;
let browser;
let dir;
const mocks = {};

before(async () => {
  mocks.slow = await startMock({ chunks: 400, chunkDelayMs: 25, model: 'slow-mock' });
  mocks.evil = await startMock({
    model: 'evil-mock',
    words: ['<img src=x onerror="window.__xss=1">', ' <script>window.__xss=2</script>',
      '\n\n**bold** and `<b>code</b>`\n\n```js\nconst x = "<svg onload=alert(1)>";\n```\n',
      '[click](javascript:alert(1)) [ok](https://example.com/a"b)'],
  });
  mocks.broken = await startMock({ mode: '500', model: 'broken-mock' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-web-app-'));
  const target = (name, url) =>
    `[[target]]\nname = "${name}"\nkind = "openai"\nbase_url = "${url}"\nmodel = "m"\n`
    + `[[route]]\nname = "${name}"\npolicy = "cloud-only"\ntargets = ["${name}"]\n`;
  fs.writeFileSync(path.join(dir, 'router.toml'),
    Object.entries(mocks).map(([name, m]) => target(name, m.url)).join('\n'));
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

const openApp = (url, viewport) => openPage(browser, server.baseURL, url, viewport);

async function send(page, modelId, text) {
  await page.select('#model-select', modelId);
  await page.click('#composer-input');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

const replyDone = (page) => page.waitForFunction(() => {
  const last = [...document.querySelectorAll('#messages .message')].at(-1);
  return last && !document.querySelector('[aria-busy="true"]')
    && (last.classList.contains('error') || last.querySelector('.actions button'));
}, { timeout: 60000 });

test('chat with the real model: it answers with timings and the conversation survives a reload', async () => {
  const page = await openApp();
  await axeCheck(page, 'empty chat');
  await page.click('#toggle-settings');
  await page.type('#max-tokens', '40');
  await page.type('#seed', '7');
  await send(page, 'stories', 'Once upon a time');
  await replyDone(page);
  const reply = await page.$eval('#messages .message.assistant', (n) => ({
    text: n.querySelector('.body').textContent, meta: n.querySelector('.meta').textContent,
  }));
  assert.ok(reply.text.trim().length > 0, 'the model wrote something');
  assert.match(reply.meta, /TTFT \d+ ms · [\d.]+ tok\/s · \d+ tokens/);
  await page.waitForFunction(() => /^\/c\/conv-/.test(location.pathname));
  await page.waitForSelector('#conversation-list a[aria-current="page"]');
  await page.screenshot({ path: path.join(shots, 'chat-light.png') });
  await axeCheck(page, 'chat with a reply and settings');

  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#messages .message.assistant');
  const after = await page.evaluate(() => ({
    user: document.querySelector('#messages .message.user .body').textContent,
    meta: document.querySelector('#messages .message.assistant .meta').textContent,
    listed: [...document.querySelectorAll('#conversation-list a')].map((a) => a.textContent),
    maxTokens: document.querySelector('#max-tokens').value,
  }));
  assert.equal(after.user, 'Once upon a time');
  assert.match(after.meta, /tok\/s/, 'timings were kept');
  assert.ok(after.listed.includes('Once upon a time'));
  assert.equal(after.maxTokens, '40', 'parameters were kept');

  // Regenerate replaces the reply; edit-and-resend drops what followed the edited turn.
  await page.click('.message.assistant .action-regenerate');
  await replyDone(page);
  assert.equal(await page.$$eval('#messages .message', (n) => n.length), 2);
  await page.click('.message.user .action-edit');
  await page.$eval('.message.user textarea', (t) => { t.value = 'Lily had a zebra-42'; });
  await page.click('.message.user button.primary');
  await replyDone(page);
  const texts = await page.$$eval('#messages .message .body', (n) => n.map((b) => b.textContent));
  assert.equal(texts.length, 2);
  assert.equal(texts[0], 'Lily had a zebra-42');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a slow reply streams and Stop ends it mid-stream', async () => {
  const page = await openApp();
  const abortedBefore = mocks.slow.aborted;
  await send(page, 'slow', 'Tell me a long story');
  // Streaming: text shows while the reply is still marked busy, and keeps growing.
  await page.waitForFunction(() => {
    const busy = document.querySelector('.message[aria-busy="true"] .body');
    return busy && busy.textContent.split('w').length > 5;
  }, { timeout: 10000 });
  const early = await page.$eval('.message[aria-busy="true"] .body', (b) => b.textContent.length);
  await page.waitForFunction((n) => {
    const busy = document.querySelector('.message[aria-busy="true"] .body');
    return busy && busy.textContent.length > n;
  }, { timeout: 10000 }, early);
  assert.equal(await page.$eval('#stop', (b) => b.hidden), false);
  await page.screenshot({ path: path.join(shots, 'chat-streaming.png') });
  await page.click('#stop');
  await replyDone(page);
  const text = await page.$eval('#messages .message.assistant .body', (b) => b.textContent);
  const words = text.trim().split(/\s+/).length;
  assert.ok(words > 3 && words < 400, `stopped part way (${words} words)`);
  assert.equal(await page.$eval('#stop', (b) => b.hidden), true);
  // The server saw the client go and stopped reading the upstream.
  const deadline = Date.now() + 5000;
  while (mocks.slow.aborted === abortedBefore && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(mocks.slow.aborted > abortedBefore, 'the upstream request was cancelled');
  await page.close();
});

test('a reply still streaming when the user opens a new chat is saved to its own conversation', async () => {
  const page = await openApp();
  await send(page, 'slow', 'First topic');
  await page.waitForFunction(() =>
    document.querySelector('.message[aria-busy="true"] .body')?.textContent.includes('w3'));
  await page.click('#new-chat');
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#conversation-list a')].some((a) => a.textContent === 'First topic'));
  assert.equal(await page.$$eval('#messages .message', (n) => n.length), 0, 'the new chat is empty');
  await page.evaluate(() => [...document.querySelectorAll('#conversation-list a')]
    .find((a) => a.textContent === 'First topic').click());
  await page.waitForSelector('#messages .message.assistant');
  const roles = await page.$$eval('#messages .message', (n) => n.map((m) => m.className));
  assert.deepEqual(roles, ['message user', 'message assistant']);
  await page.close();
});

test('keyboard: the skip link reaches the message box, Enter sends, Escape stops', async () => {
  const page = await openApp();
  await page.select('#model-select', 'slow');
  // The first stop of the page's tab order is the skip link.
  assert.equal(await page.evaluate(() => [...document.querySelectorAll('a, button, input, select, textarea')]
    .find((e) => e.offsetParent !== null || e.classList.contains('skip')).className), 'skip');
  await page.focus('.skip');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'composer-input');
  await page.keyboard.type('typed, not clicked');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() =>
    document.querySelector('.message[aria-busy="true"] .body')?.textContent.includes('w2'));
  await page.keyboard.press('Escape');
  await replyDone(page);
  const stopped = await page.$eval('#messages .message.assistant .body', (b) => b.textContent);
  assert.ok(stopped.trim().split(/\s+/).length < 400, 'stopped before the end');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'composer-input',
    'focus is back in the message box');
  await page.close();
});

test('a failing model shows the server error as a message in the chat', async () => {
  const page = await openApp();
  await send(page, 'broken', 'hello');
  await page.waitForSelector('#messages .message.error[role="alert"]', { timeout: 10000 });
  const error = await page.$eval('#messages .message.error .body', (b) => b.textContent);
  assert.match(error, /mock internal error/);
  await page.screenshot({ path: path.join(shots, 'chat-error.png') });
  // The failed turn is kept (and can be regenerated).
  await page.waitForSelector('.message.error .action-regenerate');
  await page.close();
});

test('a stored conversation opened by URL: its HTML shows as text; its unknown model is an error message', async () => {
  const res = await fetch(`${server.baseURL}/ui/api/conversations`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'stored', model: 'no-such-model', messages: [
      { role: 'user', content: '<b>hi</b>' },
      { role: 'assistant', model: 'no-such-model', content: 'see <img src=x onerror="window.__xss=3"> <script>window.__xss=4</script>' },
    ] }),
  });
  const { id } = await res.json();
  const page = await openApp(`/c/${id}`);
  await page.waitForSelector('#messages .message.assistant');
  const seen = await page.evaluate(() => ({
    injected: document.querySelectorAll('#messages img, #messages script, #messages b').length,
    user: document.querySelector('#messages .message.user .body').textContent,
    xss: window.__xss ?? null,
    model: document.querySelector('#model-select').value,
  }));
  assert.deepEqual(seen, { injected: 0, user: '<b>hi</b>', xss: null, model: 'no-such-model' });
  await page.click('#composer-input');
  await page.keyboard.type('again');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#messages .message.error[role="alert"]');
  assert.match(await page.$eval('#messages .message.error .body', (b) => b.textContent),
    /no-such-model/);
  await page.close();
});

test('HTML and script in a reply render as text', async () => {
  const page = await openApp();
  await send(page, 'evil', 'say something nasty');
  await replyDone(page);
  const seen = await page.evaluate(() => {
    const body = document.querySelector('#messages .message.assistant .body');
    return {
      text: body.textContent,
      injected: body.querySelectorAll('img, script, svg, iframe, [onerror], [onload]').length,
      xss: window.__xss,
      bold: body.querySelector('strong')?.textContent,
      hrefs: [...body.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      code: body.querySelector('pre code')?.textContent,
    };
  });
  assert.equal(seen.injected, 0);
  assert.equal(seen.xss, undefined);
  assert.match(seen.text, /<img src=x onerror="window.__xss=1">/);
  assert.match(seen.text, /<script>window.__xss=2<\/script>/);
  assert.equal(seen.bold, 'bold');
  assert.equal(seen.code, 'const x = "<svg onload=alert(1)>";');
  assert.ok(seen.hrefs.every((h) => h.startsWith('https://')), `only http(s) links: ${seen.hrefs}`);
  await page.screenshot({ path: path.join(shots, 'chat-escaped-html.png') });
  await page.close();
});

test('dark theme at phone width, with the conversation list open', async () => {
  const page = await openApp('/', { width: 390, height: 844, isMobile: true, hasTouch: true });
  while (await page.$eval('#theme-toggle', (b) => b.textContent) !== 'Theme: dark') {
    await page.click('#theme-toggle');
  }
  await send(page, 'stories', 'Tom went');
  await replyDone(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > innerWidth);
  assert.equal(overflow, false, 'nothing wider than the phone');
  await page.screenshot({ path: path.join(shots, 'chat-dark-phone.png') });
  await axeCheck(page, 'dark, phone width');
  await page.click('#toggle-sidebar');
  await page.waitForSelector('#sidebar.open #conversation-list a');
  await page.screenshot({ path: path.join(shots, 'conversations-phone.png') });
  await page.close();
});

test('search, rename and delete in the conversation list', async () => {
  const page = await openApp();
  page.on('dialog', async (d) => (d.type() === 'prompt' ? d.accept('Renamed chat') : d.accept()));
  await page.type('#search', 'zebra-42');  // in no reply of the model
  await page.waitForFunction(() => {
    const links = [...document.querySelectorAll('#conversation-list a')];
    return links.length === 1 && links[0].textContent === 'Once upon a time';
  });
  await page.click('#conversation-list li button[aria-label^="Rename"]');
  await page.waitForFunction(() =>
    document.querySelector('#conversation-list a')?.textContent === 'Renamed chat');
  await page.click('#conversation-list li button[aria-label^="Delete"]');
  await page.waitForSelector('#conversation-list li.empty');
  await page.close();
});

test('with --api-key the app asks for the key and keeps it in sessionStorage only', async () => {
  const keyed = await startServer(['-m', model('stories260K.gguf'), '--alias', 'stories',
    '--api-key', 'sesame']);
  const page = await browser.newPage();
  try {
    await page.goto(keyed.baseURL + '/');
    await page.waitForSelector('#key-dialog[open]');
    await page.type('#key-input', 'wrong');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() =>
      document.querySelector('#key-error').textContent.includes('refused'));
    await page.$eval('#key-input', (i) => { i.value = ''; });
    await page.type('#key-input', 'sesame');
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-ready="true"]');
    assert.deepEqual(await page.$$eval('#model-select option', (o) => o.map((x) => x.value)),
      ['stories']);
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem('hearth.apiKey'),
      local: Object.keys(localStorage).filter((k) => localStorage.getItem(k).includes('sesame')),
    }));
    assert.equal(stored.session, 'sesame');
    assert.deepEqual(stored.local, []);
  } finally {
    await page.close();
    assert.equal(await keyed.stop(), 0);
  }
});
