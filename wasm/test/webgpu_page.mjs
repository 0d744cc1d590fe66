// The page the WebGPU tests and benchmark run in: Debian's headless chromium (through
// tests/e2e's puppeteer-core, which never downloads a browser) with SwiftShader's WebGPU
// adapter, on a tiny static server of the wasm build, wasm/js/ and the fixture models. The
// page holds one wasm module (window.hearthModule), wasm/js/webgpu.js (window.gpu) and
// window.loadModel(name) -> a wasm engine (wasm/js/engine.js's WasmEngine, the one the
// package's worker hands to webgpu.js) on a fixture model.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { buildDir, fixturesDir } from "./engine.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const chromium = process.env.HEARTH_CHROMIUM ?? "/usr/bin/chromium";
// WebGPU flags, as tried on Debian's chromium 156 headless without a GPU: no flag gives a null
// adapter; --enable-unsafe-webgpu alone already gives SwiftShader's adapter (also with
// --disable-gpu); --enable-unsafe-swiftshader is passed too, as chromium releases that gate
// the software adapter behind it need it.
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-webgpu",
                       "--enable-unsafe-swiftshader"];

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                ".html": "text/html", ".gguf": "application/octet-stream" };
const PAGE = `<!doctype html><html><head><title>hearth webgpu test</title>
<script src="/build-wasm/hearth_wasm.js"></script></head><body>webgpu test</body></html>`;

// Serves the page, the repository (wasm/js/), the wasm build and the fixture models.
function startServer() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x").pathname;
    if (url === "/") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(PAGE);
      return;
    }
    let file;
    if (url.startsWith("/build-wasm/")) file = path.join(buildDir, url.slice("/build-wasm/".length));
    else if (url.startsWith("/fixtures/")) file = path.join(fixturesDir, url.slice("/fixtures/".length));
    else if (url.startsWith("/wasm/js/")) file = path.join(root, url);
    if (!file || file.includes("..") || !existsSync(file)) {
      res.writeHead(404);
      res.end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

// Returns { page, adapter (webGpuAvailable()'s answer), close() }. `webgpu: false` starts
// chromium without the WebGPU flags (no adapter), for the fallback's test.
export async function openWebGpuPage({ webgpu = true } = {}) {
  const require = createRequire(path.join(root, "tests/e2e/package.json"));
  const puppeteer = (await import(pathToFileURL(require.resolve("puppeteer-core")).href)).default;
  assert.ok(existsSync(chromium), `${chromium} not found (set HEARTH_CHROMIUM)`);
  const server = await startServer();
  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: webgpu ? CHROMIUM_ARGS : CHROMIUM_ARGS.slice(0, 2) });
  const page = await browser.newPage();
  page.setDefaultTimeout(300000);
  page.on("pageerror", (e) => process.stderr.write(`[page] ${e}\n`));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  // One wasm module for the whole page; engines are created per model.
  const adapter = await page.evaluate(async () => {
    window.hearthModule = await createHearthWasm({ locateFile: (p) => `/build-wasm/${p}`,
                                                   print: () => {}, printErr: () => {} });
    window.gpu = await import("/wasm/js/webgpu.js");
    const { loadWasmEngine } = await import("/wasm/js/engine.js");
    window.loadModel = async (name) => {
      const bytes = new Uint8Array(await (await fetch(`/fixtures/models/${name}.gguf`)).arrayBuffer());
      return loadWasmEngine(window.hearthModule, bytes.length, async (write) => write(bytes, 0));
    };
    return window.gpu.webGpuAvailable();
  });
  return { page, adapter, close: async () => { await browser.close(); server.close(); } };
}

