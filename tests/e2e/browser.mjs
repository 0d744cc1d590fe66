// What the browser tests share: Debian's chromium (headless, through puppeteer-core, which
// never downloads a browser of its own), axe-core's check, and where screenshots go
// (build/screenshots/ beside the binary under test, or HEARTH_SCREENSHOTS).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';
import { hearthBinary } from './harness.mjs';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const chromium = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';

export const screenshots = process.env.HEARTH_SCREENSHOTS
  ?? path.join(path.dirname(path.resolve(hearthBinary)), 'screenshots');

// `webgpu: true` turns on WebGPU, which headless chromium without a GPU then serves with
// SwiftShader's software adapter (the flags wasm/test/webgpu_page.mjs documents).
export function launchBrowser({ webgpu = false } = {}) {
  assert.ok(fs.existsSync(chromium),
    `${chromium} not found: scripts/install-deps.sh installs chromium (or set HEARTH_CHROMIUM)`);
  fs.mkdirSync(screenshots, { recursive: true });
  return puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           ...(webgpu ? ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader'] : [])],
  });
}

// No serious or critical accessibility violation on the page as it is now.
export async function axeCheck(page, what) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), [],
    `axe (${what})`);
}

// A new tab on the app at `url`, ready (the app sets body[data-ready]); page.errors collects
// the page's uncaught errors and console errors, for a test to assert on.
export async function openPage(browser, baseURL, url = '/', viewport = { width: 1200, height: 800 }) {
  const page = await browser.newPage();
  // Waits are budgets, not checks: CI's two cores are shared with chromium and the server.
  page.setDefaultTimeout(60000);
  await page.setViewport(viewport);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const res = await page.goto(baseURL + url);
  assert.ok([200, 304].includes(res.status()), `status ${res.status()}`);
  await page.waitForSelector('body[data-ready="true"]');
  page.errors = errors;
  return page;
}
