// hearth-wasm against @wllama/wllama (llama.cpp compiled to wasm) in Debian's headless chromium,
// on the same GGUF files, at the same thread count; and native `hearth bench` on the same file
// in the same command. Issue 19's "Numbers". Not part of `make test`.
//
//   cd bench/browser && npm ci
//   node bench.mjs [--models stories260K,tiny-qwen2-q8_0,...] [--synthetic q8_0,q4_0]
//                  [--threads 1] [--reps 3] [-p 128] [-n 32] [--load] [--no-speed] [--no-native]
//                  [--hearth ../../build/hearth] [--wasm-dir ../../build-wasm]
//                  [--fixtures DIR] [--cache-dir DIR] [--json FILE] [--js-flags FLAGS]
//
// --models: fixture model names (default: the fixtures both engines load, see DEFAULT_MODELS);
// --synthetic: qwen2.5-0.5b-shaped random-weight files of these types, written (once) by
//   `hearth bench --synthetic qwen2.5-0.5b --type T --write-only --cache-dir DIR`;
// --threads: threads for both engines (hearth-wasm: above 1, its threaded build
//   hearth_wasm_mt, which --wasm-dir must hold; the page is cross-origin isolated);
// --js-flags: V8 flags for chromium, e.g. "--no-liftoff" (every wasm function compiled by
//   TurboFan before it runs: steady-state speed from the first call, for both engines; by
//   default V8 starts on its baseline compiler and tiers up hot functions in the background,
//   which on a loaded machine can lag behind a short benchmark);
// --load: also page load to first token (OPFS cache cold, then warm) and the tab's memory
//   (a chat: models without a chat template get an error row); --no-speed: only that.
//
// What is measured (per model, one chromium per model, both engines loaded in the same page,
// each in its own Web Worker, timed inside that worker):
// - prompt (ppP): an English text of exactly P tokens (hearth's count, BOS included where the
//   model adds one; wllama's prompt_n must be the same) as one batch into an empty context.
//   hearth: WasmEngine.decode in bench/browser/hearth_worker.js; wllama: createCompletion({
//   prompt: text, cache_prompt: false }) and llama-server's prompt_ms (this wllama takes text
//   only, not token ids).
// - generation (tgN): N greedy tokens after a short prompt, counted as llama-server counts
//   predicted_ms (from the prompt's logits to the N-th token: N - 1 decodes and N picks).
//   The greedy texts of both engines are compared (they must agree on stories260K, the one
//   fixture with trained weights).
// - the median of --reps repetitions after one warm-up of each, the engines alternating
//   (even repetitions hearth first, odd ones wllama first).
// Output: one JSON line per row on stdout (and in --json FILE), then a table.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const DEFAULT_MODELS = ["stories260K", "tiny-llama-spm-q4_0", "tiny-llama-spm-f16",
                        "tiny-qwen2-q8_0", "tiny-qwen2-q4_0", "tiny-phi3-q4_k_m"];
const TEXT = "Once upon a time, there was a little girl named Lily. She loved to play outside " +
  "in the sunshine with her dog, a big brown dog called Max. One day, Lily and Max went to the " +
  "park near their house. They saw a tall tree with red apples, and Lily wanted one. She asked " +
  "her mom for help, and her mom lifted her up so she could reach the biggest apple. Lily said " +
  "thank you and shared the apple with Max, who wagged his tail. Then they walked home together " +
  "as the sun went down, and Lily told her dad all about the tree, the apples and the park. ";
const SHORT_PROMPT = "Once upon a time, there was a little";

function parseArgs(argv) {
  const opts = { models: DEFAULT_MODELS, synthetic: ["q8_0", "q4_0"], threads: 1, reps: 3,
                 p: 128, n: 32, load: false, speed: true, native: true,
                 hearth: path.join(root, "build/hearth"), wasmDir: path.join(root, "build-wasm"),
                 fixtures: process.env.HEARTH_FIXTURES ?? path.resolve(root, "../shared/fixtures"),
                 cacheDir: path.join(root, "build/bench-models"), json: null, jsFlags: null };
  const list = (v) => (v === "" || v === "none" ? [] : v.split(","));
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--models") opts.models = list(value());
    else if (a === "--synthetic") opts.synthetic = list(value());
    else if (a === "--threads") opts.threads = Number(value());
    else if (a === "--reps") opts.reps = Number(value());
    else if (a === "-p") opts.p = Number(value());
    else if (a === "-n") opts.n = Number(value());
    else if (a === "--load") opts.load = true;
    else if (a === "--no-native") opts.native = false;
    else if (a === "--no-speed") opts.speed = false;
    else if (a === "--hearth") opts.hearth = path.resolve(value());
    else if (a === "--wasm-dir") opts.wasmDir = path.resolve(value());
    else if (a === "--fixtures") opts.fixtures = path.resolve(value());
    else if (a === "--cache-dir") opts.cacheDir = path.resolve(value());
    else if (a === "--json") opts.json = path.resolve(value());
    else if (a === "--js-flags") opts.jsFlags = value();
    else if (a.startsWith("--js-flags=")) opts.jsFlags = a.slice("--js-flags=".length);
    else throw new Error(`unknown option ${a} (see the header of bench/browser/bench.mjs)`);
  }
  if (!(opts.threads >= 1)) throw new Error("--threads must be at least 1");
  if (opts.threads !== 1) {
    // The single-threaded build would quietly run on one thread while wllama used several.
    const threaded = fs.existsSync(path.join(opts.wasmDir, "hearth_wasm_mt.worker.js"));
    if (!threaded) throw new Error(`--threads ${opts.threads}: ${opts.wasmDir} has no threaded ` +
                                   "hearth-wasm build (hearth_wasm_mt); only --threads 1 compares");
  }
  if (!(opts.reps >= 1) || !(opts.p >= 1) || !(opts.n >= 2)) throw new Error("bad -p/-n/--reps");
  return opts;
}

// --- the models ---------------------------------------------------------------------------
function resolveModels(opts) {
  const models = opts.models.map((name) => {
    const file = path.join(opts.fixtures, "models", `${name}.gguf`);
    if (!fs.existsSync(file)) throw new Error(`${file} not found (--fixtures or HEARTH_FIXTURES)`);
    return { name, file };
  });
  for (const type of opts.synthetic) {
    const r = spawnSync(opts.hearth, ["bench", "--synthetic", "qwen2.5-0.5b", "--type", type,
                                      "--write-only", "--cache-dir", opts.cacheDir],
                        { encoding: "utf8", env: { ...process.env, HEARTH_FIXTURES: opts.fixtures } });
    if (r.status !== 0) throw new Error(`writing the synthetic ${type} model: ${r.stderr}`);
    const file = r.stdout.trim().split("\n").pop();
    models.push({ name: `qwen2.5-0.5b-${type} (synthetic)`, file });
  }
  return models;
}

// --- the static server --------------------------------------------------------------------
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                ".html": "text/html", ".gguf": "application/octet-stream" };
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>hearth vs wllama</title>
<script type="module" src="/bench/page.js"></script></head><body>benchmark</body></html>`;

// One page, both engines' files and the models, every answer cross-origin isolated (COOP +
// COEP, so SharedArrayBuffer and threads are allowed to both) and never cached by HTTP (the
// only cache a load may hit is the engine's own OPFS copy).
function startServer(opts, models) {
  const byName = new Map(models.map((m) => [m.name.split(" ")[0], m]));
  const sha = new Map();
  const sha256 = (file) => {
    if (!sha.has(file)) sha.set(file, createHash("sha256").update(fs.readFileSync(file)).digest("hex"));
    return sha.get(file);
  };
  const wllamaDir = path.join(here, "node_modules/@wllama/wllama/esm");
  const resolve = (url) => {
    if (url.startsWith("/bench/")) return path.join(here, url.slice(7));
    if (/^\/hearth\/hearth_wasm(_mt)?(\.worker)?\.(js|wasm)$/.test(url)) {
      return path.join(opts.wasmDir, url.slice(8));
    }
    if (url.startsWith("/hearth/")) return path.join(root, "wasm/js", url.slice(8));
    if (url.startsWith("/wllama/")) return path.join(wllamaDir, url.slice(8));
    let m = /^\/models\/([^/]+)\.gguf$/.exec(url);
    if (m) return byName.get(m[1])?.file;
    m = /^\/v1\/models\/([^/]+)\/file$/.exec(url);
    if (m) return byName.get(m[1])?.file;
    return undefined;
  };
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const headers = { "Cross-Origin-Opener-Policy": "same-origin",
                      "Cross-Origin-Embedder-Policy": "require-corp",
                      "Cross-Origin-Resource-Policy": "same-origin",
                      "Cache-Control": "no-store" };
    if (url === "/") {
      res.writeHead(200, { ...headers, "Content-Type": "text/html" });
      res.end(PAGE);
      return;
    }
    if (url === "/favicon.ico") {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    const file = resolve(url);
    if (!file || url.includes("..") || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      if (process.env.BENCH_DEBUG) process.stderr.write(`404 ${url}\n`);
      res.writeHead(404, headers);
      res.end("not found");
      return;
    }
    const size = fs.statSync(file).size;
    headers["Content-Type"] = TYPES[path.extname(file)] ?? "application/octet-stream";
    headers["Accept-Ranges"] = "bytes";
    // The hearth model URL carries the sha256 ETag hearth's OPFS cache keys on (as `hearth
    // serve` does); If-Range with any other value means "the whole file".
    if (url.startsWith("/v1/")) headers.ETag = `"${sha256(file)}"`;
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const ifRange = req.headers["if-range"];
    if (range && (!ifRange || ifRange === headers.ETag)) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start > end) {
        res.writeHead(416, { ...headers, "Content-Range": `bytes */${size}` });
        res.end();
        return;
      }
      headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
    }
    headers["Content-Length"] = end - start + 1;
    res.writeHead(headers["Content-Range"] ? 206 : 200, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    fs.createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

// --- the browser --------------------------------------------------------------------------
const CHROMIUM = process.env.HEARTH_CHROMIUM ?? "/usr/bin/chromium";

async function launch(opts) {
  // No WebGPU flag: chromium here has no adapter then, so both engines run their wasm CPU path.
  // A fresh profile per launch, so the OPFS caches start empty.
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-profile-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
           "--enable-blink-features=ForceEagerMeasureMemory",
           ...(opts.jsFlags ? [`--js-flags=${opts.jsFlags}`] : [])],
  });
  const [page] = await browser.pages();
  page.setDefaultTimeout(20 * 60 * 1000);
  page.on("pageerror", (e) => process.stderr.write(`[page] ${e}\n`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warn" || process.env.BENCH_DEBUG) process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
  });
  const close = async () => {
    await browser.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { browser, page, close };
}

// The renderer processes of `browser` (the tab and its workers live in one): resident and
// peak resident bytes from /proc, the biggest renderer's.
function rendererMemory(browser) {
  const children = new Map();
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(pid));
    } catch { /* gone */ }
  }
  const all = [];
  const walk = (pid) => (children.get(pid) ?? []).forEach((c) => { all.push(c); walk(c); });
  walk(browser.process().pid);
  let best = null;
  for (const pid of all) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--type=renderer")) continue;
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
      const m = { rss: kb("VmRSS"), peak: kb("VmHWM") };
      if (!best || m.peak > best.peak) best = m;
    } catch { /* gone */ }
  }
  return best;
}

// --- measurements -------------------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// English words while hearth counts at most p tokens, then " the" until it counts exactly p
// (wllama takes text; its prompt_n is checked against p, so both tokenizers must agree).
async function promptOfLength(count, p) {
  const words = TEXT.repeat(8).trim().split(" ");
  let lo = 1;
  let hi = words.length;
  if (await count(words.join(" ")) < p) throw new Error(`the text has fewer than ${p} tokens`);
  while (lo < hi) {  // the longest prefix of words with at most p tokens
    const mid = (lo + hi + 1) >> 1;
    if (await count(words.slice(0, mid).join(" ")) <= p) lo = mid;
    else hi = mid - 1;
  }
  let text = words.slice(0, lo).join(" ");
  for (let n = await count(text); n < p; n = await count(text)) text += " the";
  if (await count(text) !== p) throw new Error(`no text of exactly ${p} tokens`);
  return text;
}

async function benchModel(model, base, opts) {
  const { page, browser, close } = await launch(opts);
  try {
    await page.goto(`${base}/${process.env.BENCH_DEBUG ? "?debug" : ""}`);
    await page.waitForFunction(() => window.bench !== undefined);
    const url = `/models/${model.name.split(" ")[0]}.gguf`;
    const nCtx = 512;
    const info = {};
    for (const engine of ["hearth", "wllama"]) {
      info[engine] = await page.evaluate((e, u, o) => window.bench.open(e, u, o), engine, url,
                                         { nCtx, threads: opts.threads });
    }
    const count = async (text) => (await page.evaluate((t) => window.bench.tokenize(t), text)).length;
    const ppText = await promptOfLength(count, opts.p);
    const tgText = SHORT_PROMPT;
    const tgCount = await count(tgText);
    const runs = { hearth: { pp: [], tg: [] }, wllama: { pp: [], tg: [] } };
    const texts = {};
    for (let rep = -1; rep < opts.reps; ++rep) {  // rep -1: the warm-up
      const order = rep % 2 === 0 || rep < 0 ? ["hearth", "wllama"] : ["wllama", "hearth"];
      for (const engine of order) {
        const pp = await page.evaluate((e, t) => window.bench.pp(e, t), engine, ppText);
        if (pp.n !== opts.p) throw new Error(`${engine} decoded ${pp.n} prompt tokens, not ${opts.p}`);
        if (rep >= 0) runs[engine].pp.push((pp.n / pp.ms) * 1000);
      }
      for (const engine of order) {
        const tg = await page.evaluate((e, t, n) => window.bench.tg(e, t, n), engine, tgText, opts.n);
        if (tg.n !== opts.n) throw new Error(`${engine} generated ${tg.n} tokens, not ${opts.n}`);
        if (tg.promptN !== undefined && tg.promptN !== tgCount) {
          throw new Error(`${engine} read ${tg.promptN} prompt tokens, not ${tgCount}`);
        }
        if (rep >= 0) runs[engine].tg.push((tg.n / tg.ms) * 1000);
        texts[engine] = tg.text;
      }
    }
    const memory = rendererMemory(browser);
    const heap = await page.evaluate(() => window.bench.heap());
    return { info, runs, texts, memory, heap, promptTokens: tgCount };
  } finally {
    await close();
  }
}

// Page load to first token, OPFS cold then warm (a reload in the same profile), and memory.
async function loadModel(model, engine, base, opts) {
  const { page, browser, close } = await launch(opts);
  const name = model.name.split(" ")[0];
  const out = [];
  try {
    for (const state of ["cold", "warm"]) {
      if (state === "cold") await page.goto(`${base}/`);
      else await page.reload();
      await page.waitForFunction(() => window.bench !== undefined);
      const r = await page.evaluate((e, m, t) => window.bench.firstToken(e, m, t), engine, name,
                                    opts.threads);
      const measured = await Promise.race([
        page.evaluate(() => window.bench.measureMemory()),
        new Promise((ok) => setTimeout(() => ok(null), 60000)),
      ]);
      out.push({ state, ...r, jsAndWasmBytes: measured?.bytes ?? null,
                 renderer: rendererMemory(browser) });
    }
  } finally {
    await close();
  }
  return out;
}

function nativeBench(model, opts) {
  const r = spawnSync(opts.hearth, ["bench", "-m", model.file, "-p", String(opts.p), "-n",
                                    String(opts.n), "-t", String(opts.threads), "-r",
                                    String(opts.reps), "--json"], { encoding: "utf8" });
  if (r.status !== 0) return { error: r.stderr.trim() };
  const j = JSON.parse(r.stdout.trim().split("\n").pop());
  const get = (test) => j.results.find((x) => x.test === test)?.tokens_per_second;
  return { pp: get(`pp${opts.p}`), tg: get(`tg${opts.n}`), kernels: j.kernels };
}

async function speedRow(model, base, opts, emit) {
  const r = await benchModel(model, base, opts);
  const native = opts.native ? nativeBench(model, opts) : {};
  const h = { pp: median(r.runs.hearth.pp), tg: median(r.runs.hearth.tg) };
  const w = { pp: median(r.runs.wllama.pp), tg: median(r.runs.wllama.tg) };
  emit({ kind: "speed", model: model.name, file: model.file, threads: opts.threads, jsFlags: opts.jsFlags,
         hearth: { ...h, runs: r.runs.hearth }, wllama: { ...w, runs: r.runs.wllama },
         ratio: { pp: h.pp / w.pp, tg: h.tg / w.tg }, native,
         toNative: { pp: h.pp / native.pp, tg: h.tg / native.tg },
         greedySame: r.texts.hearth === r.texts.wllama, texts: r.texts,
         wllamaInfo: r.info.wllama, hearthHeapBytes: r.heap, rendererBytes: r.memory,
         loadAverage: os.loadavg() });
}

// --- main ---------------------------------------------------------------------------------
const fmt = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? "-" : x.toFixed(d));
const MB = (b) => (b ? `${(b / 2 ** 20).toFixed(0)}` : "-");

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const f of ["hearth_wasm.js", "hearth_wasm.wasm"]) {
    if (!fs.existsSync(path.join(opts.wasmDir, f))) throw new Error(`${opts.wasmDir}/${f} missing: make wasm-build`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (set HEARTH_CHROMIUM)`);
  const models = resolveModels(opts);
  const server = await startServer(opts, models);
  const base = `http://127.0.0.1:${server.address().port}`;
  const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.error(`# ${os.cpus()[0]?.model}, ${os.cpus().length} cores, load average ${load}; ` +
                `threads ${opts.threads}, pp${opts.p}, tg${opts.n}, median of ${opts.reps}` +
                (opts.jsFlags ? `, --js-flags=${opts.jsFlags}` : ""));
  const rows = [];
  const emit = (row) => {
    rows.push(row);
    console.log(JSON.stringify(row));
    if (opts.json) fs.appendFileSync(opts.json, `${JSON.stringify(row)}\n`);
  };
  try {
    for (const model of models) {
      if (opts.speed) {
        try {
          await speedRow(model, base, opts, emit);
        } catch (e) {
          emit({ kind: "speed-error", model: model.name, error: String(e.message ?? e).split("\n")[0] });
        }
      }
      if (opts.load) {
        for (const engine of ["hearth", "wllama"]) {
          // A chat needs the model's chat template: a model without one gets its error row.
          try {
            for (const x of await loadModel(model, engine, base, opts)) {
              emit({ kind: "load", model: model.name, engine, ...x, loadAverage: os.loadavg() });
            }
          } catch (e) {
            emit({ kind: "load", model: model.name, engine, error: String(e.message ?? e).split("\n")[0] });
          }
        }
      }
    }
  } finally {
    server.close();
  }
  console.log(`\n| model | pp${opts.p} hearth | pp wllama | ratio | tg${opts.n} hearth | tg wllama | ratio | ` +
              "native pp | native tg | wasm/native pp | tg | greedy same |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows.filter((x) => x.kind === "speed")) {
    console.log(`| ${r.model} | ${fmt(r.hearth.pp)} | ${fmt(r.wllama.pp)} | ${fmt(r.ratio.pp, 2)} | ` +
                `${fmt(r.hearth.tg)} | ${fmt(r.wllama.tg)} | ${fmt(r.ratio.tg, 2)} | ` +
                `${fmt(r.native.pp)} | ${fmt(r.native.tg)} | ${fmt(r.toNative.pp, 2)} | ` +
                `${fmt(r.toNative.tg, 2)} | ${r.greedySame ? "yes" : "no"} |`);
  }
  for (const r of rows.filter((x) => x.kind === "speed-error")) console.log(`| ${r.model} | ${r.error} |`);
  const loads = rows.filter((x) => x.kind === "load");
  if (loads.length) {
    console.log("\n| model | engine | OPFS | first token ms | loaded ms | JS+wasm MiB | renderer RSS MiB | peak MiB |");
    console.log("|---|---|---|---|---|---|---|---|");
    for (const r of loads) {
      if (r.error) {
        console.log(`| ${r.model} | ${r.engine} | - | ${r.error} | | | | |`);
        continue;
      }
      console.log(`| ${r.model} | ${r.engine} | ${r.state} (${r.cache}) | ${fmt(r.firstTokenMs, 0)} | ` +
                  `${fmt(r.loadedMs, 0)} | ${MB(r.jsAndWasmBytes)} | ${MB(r.renderer?.rss)} | ` +
                  `${MB(r.renderer?.peak)} |`);
    }
  }
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exit(1);
});
