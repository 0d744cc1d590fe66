// The JS package's API (wasm/js/hearth.js) in Node: Hearth.create with the wasm backend runs
// in this thread (no Worker, no OPFS), and its replies must have the OpenAI shapes the
// server sends, agree with the C API's own greedy loop, and honour max_tokens, stop, seed.
// Also: the backend choice without WebGPU, and the JS SHA-256 against node:crypto.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { Hearth } from "../js/hearth.js";
import { ensureRoom } from "../js/model_store.js";
import { Sampler, argmax } from "../js/sampler.js";
import { Sha256 } from "../js/sha256.js";
import { DEFAULT_MAX_THREADS, MAX_THREADS, chooseThreads, threadEnvironment } from "../js/threads.js";
import { buildDir, createEngine, fixturesDir } from "./engine.mjs";

const modelBytes = (name) => readFileSync(path.join(fixturesDir, "models", `${name}.gguf`));
const messages = [{ role: "user", content: "Once upon a time" }];

function checkUsage(usage) {
  assert.equal(typeof usage.prompt_tokens, "number");
  assert.equal(typeof usage.completion_tokens, "number");
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

describe("Hearth on stories260K (wasm, in-thread)", () => {
  let h;
  before(async () => {
    h = await Hearth.create({ model: modelBytes("stories260K"), backend: "wasm", wasmDir: buildDir });
  });
  after(() => h.unload());

  test("a non-streamed reply has the chat.completion shape", async () => {
    const reply = await h.chat.completions.create({ messages, max_tokens: 12, temperature: 0 });
    assert.equal(reply.object, "chat.completion");
    assert.match(reply.id, /^chatcmpl-/);
    assert.equal(typeof reply.created, "number");
    assert.equal(reply.model, "local-model");
    assert.equal(reply.choices.length, 1);
    const [choice] = reply.choices;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, "assistant");
    assert.equal(typeof choice.message.content, "string");
    assert.ok(["stop", "length"].includes(choice.finish_reason));
    checkUsage(reply.usage);
    assert.ok(reply.usage.completion_tokens <= 12);
    if (choice.finish_reason === "length") assert.equal(reply.usage.completion_tokens, 12);
    assert.ok(reply.timings.predicted_n === reply.usage.completion_tokens);
  });

  test("greedy text equals the C API's greedy loop on the same prompt", async () => {
    const engine = await createEngine();
    const handle = engine.load(modelBytes("stories260K"));
    const reply = await h.chat.completions.create({ messages, max_tokens: 20, temperature: 0 });
    // The prompt the package built: the template (ChatML fallback here) tokenized with BOS.
    const template = JSON.parse(engine.m.UTF8ToString(engine.m._hearth_model_info(handle) >>> 0));
    const text = engine.applyTemplate(template.chatTemplate,
      { messages, add_generation_prompt: true, bos_token: template.bosToken, eos_token: template.eosToken });
    const prompt = engine.tokenize(handle, text);
    assert.equal(reply.usage.prompt_tokens, prompt.length);
    const ids = engine.generate(handle, prompt, { maxTokens: 20, temperature: 0 });
    const eog = new Set(template.eog);
    const shown = ids.filter((id) => !eog.has(id));
    // detokenize drops SentencePiece's leading space of a whole text; a streamed reply is the
    // pieces as they come, so only that first space may differ.
    assert.equal(reply.choices[0].message.content.replace(/^ /, ""),
                 engine.detokenize(handle, shown).replace(/^ /, ""));
    assert.equal(reply.usage.completion_tokens, shown.length);
    engine.free(handle);
  });

  test("a stream has the chunk shapes, the same text, usage and finish_reason", async () => {
    const request = { messages, max_tokens: 16, temperature: 0 };
    const whole = await h.chat.completions.create(request);
    const chunks = [];
    for await (const c of await h.chat.completions.create({ ...request, stream: true,
                                                            stream_options: { include_usage: true } })) {
      chunks.push(c);
    }
    assert.ok(chunks.length >= 3);
    for (const c of chunks) {
      assert.equal(c.object, "chat.completion.chunk");
      assert.equal(c.id, chunks[0].id);
    }
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    const usageChunk = chunks.at(-1);
    assert.deepEqual(usageChunk.choices, []);
    checkUsage(usageChunk.usage);
    const finishing = chunks.at(-2);
    assert.equal(finishing.choices[0].finish_reason, whole.choices[0].finish_reason);
    assert.deepEqual(finishing.choices[0].delta, {});
    assert.equal(finishing.usage, null);
    const text = chunks.slice(1, -2).map((c) => c.choices[0].delta.content).join("");
    assert.equal(text, whole.choices[0].message.content);
    assert.equal(usageChunk.usage.completion_tokens, whole.usage.completion_tokens);
    // The second request reused the cached prompt.
    assert.equal(usageChunk.usage.prompt_tokens_details.cached_tokens,
                 usageChunk.usage.prompt_tokens - 1);
  });

  test("without include_usage the finishing chunk carries the timings", async () => {
    const chunks = [];
    for await (const c of await h.chat.completions.create({ messages, max_tokens: 4, stream: true })) {
      chunks.push(c);
    }
    const last = chunks.at(-1);
    assert.ok(last.choices[0].finish_reason);
    assert.equal(typeof last.timings.predicted_per_second, "number");
    assert.equal(last.usage, undefined);
  });

  test("stop strings end the reply before them", async () => {
    const free = await h.chat.completions.create({ messages, max_tokens: 40, temperature: 0 });
    const text = free.choices[0].message.content;
    const cut = text.indexOf(" ", 6);
    assert.ok(cut > 0, `a space to stop at in ${JSON.stringify(text)}`);
    const stop = text.slice(cut, cut + 3);
    const stopped = await h.chat.completions.create({ messages, max_tokens: 40, temperature: 0, stop: [stop] });
    assert.equal(stopped.choices[0].finish_reason, "stop");
    assert.equal(stopped.choices[0].message.content, text.slice(0, text.indexOf(stop)));
  });

  test("a seed repeats a sampled reply; other seeds differ", async () => {
    const ask = (seed) => h.chat.completions.create({ messages, max_tokens: 24, temperature: 1, seed });
    const a = await ask(11);
    const b = await ask(11);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    const others = await Promise.all([12, 13, 14].map(ask));
    assert.ok(others.some((o) => o.choices[0].message.content !== a.choices[0].message.content));
  });

  test("backendReport says wasm, why, and the last reply's tokens per second", () => {
    const r = h.backendReport;
    assert.equal(r.backend, "wasm");
    assert.match(r.reason, /wasm/);
    assert.ok(r.tokensPerSecond.prompt > 0);
    assert.ok(r.tokensPerSecond.generation > 0);
    assert.equal(r.model.arch, "llama");
  });

  test("a bad request is an error, and the model stays usable", async () => {
    await assert.rejects(h.chat.completions.create({ messages: "hi" }), /messages must be an array/);
    const ok = await h.chat.completions.create({ messages, max_tokens: 2 });
    assert.equal(ok.object, "chat.completion");
  });
});

describe("backend choice without WebGPU", () => {
  test("auto falls back to wasm and says why", async () => {
    const h = await Hearth.create({ model: modelBytes("stories260K"), backend: "auto", wasmDir: buildDir });
    assert.equal(h.backendReport.backend, "wasm");
    assert.match(h.backendReport.reason, /^auto: fell back to wasm because /);
    h.unload();
  });
  test("an explicit webgpu fails with the reason", async () => {
    await assert.rejects(
      Hearth.create({ model: modelBytes("stories260K"), backend: "webgpu", wasmDir: buildDir }),
      /the webgpu backend is unavailable: /);
  });
  test("a model that is not GGUF is refused with the engine's message", async () => {
    await assert.rejects(
      Hearth.create({ model: new TextEncoder().encode("not a gguf"), backend: "wasm", wasmDir: buildDir }),
      /load: .+/);
  });
});

describe("chat template from the GGUF", () => {
  test("tiny-qwen2's own template renders the ChatML turns", async () => {
    const h = await Hearth.create({ model: modelBytes("tiny-qwen2-q8_0"), backend: "wasm", wasmDir: buildDir });
    const reply = await h.chat.completions.create({ messages: [{ role: "user", content: "Hi" }], max_tokens: 3 });
    // "<|im_start|>" is one token: the template's text was tokenized with special tokens parsed.
    const ids = await h.tokenize("<|im_start|>user");
    assert.ok(ids.length <= 3, `ids ${ids}`);
    assert.ok(reply.usage.prompt_tokens > 5);
    h.unload();
  });
});

describe("storage estimate", () => {
  test("a model that will not fit fails before downloading, with the sizes", async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
    Object.defineProperty(globalThis, "navigator", {
      configurable: true,
      value: { storage: { estimate: async () => ({ quota: 10 * 2 ** 20, usage: 9 * 2 ** 20 }) } },
    });
    try {
      await assert.rejects(ensureRoom(3 * 2 ** 20),
        /the model needs 3\.0 MiB more in this browser's storage, but only 1\.0 MiB of its quota is free/);
      await ensureRoom(2 ** 19);  // fits
    } finally {
      if (saved) Object.defineProperty(globalThis, "navigator", saved);
      else delete globalThis.navigator;
    }
  });
});

describe("sampler and SHA-256", () => {
  test("top_k 1 and temperature 0 are the argmax", () => {
    const logits = Float32Array.from({ length: 300 }, (_, i) => Math.sin(i * 7.3));
    assert.equal(new Sampler({ temperature: 0 }).sample(logits), argmax(logits));
    assert.equal(new Sampler({ temperature: 1, top_k: 1, seed: 3 }).sample(logits), argmax(logits));
  });
  test("min_p keeps only tokens near the best", () => {
    const logits = new Float32Array(100).fill(-30);
    logits[5] = 10;
    logits[9] = 9.9;
    const seen = new Set();
    const s = new Sampler({ temperature: 1, min_p: 0.5, seed: 5 });
    for (let i = 0; i < 200; ++i) seen.add(s.sample(logits));
    assert.deepEqual([...seen].sort(), [5, 9]);
  });
  test("incremental SHA-256 equals node:crypto for any chunking", () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 70000]) {
      const bytes = randomBytes(n);
      const s = new Sha256();
      for (let off = 0; off < n;) {
        const k = Math.min(n - off, 1 + ((off * 31) % 97));
        s.update(bytes.subarray(off, off + k));
        off += k;
      }
      assert.equal(s.hex(), createHash("sha256").update(bytes).digest("hex"), `n=${n}`);
    }
  });
});

describe("threads (threads.js and the threaded build through Hearth)", () => {
  const browser = { isNode: false, crossOriginIsolated: true, sharedArrayBuffer: true, cores: 8 };

  test("an isolated page gets the threaded build, capped; anything else one thread, with why", () => {
    assert.deepEqual(chooseThreads(undefined, browser),
      { threaded: true, threads: DEFAULT_MAX_THREADS,
        reason: `cross-origin isolated: ${DEFAULT_MAX_THREADS} threads (of 8 cores, at most ` +
                `${DEFAULT_MAX_THREADS} by default)` });
    assert.equal(chooseThreads("auto", { ...browser, cores: 2 }).threads, 2);
    assert.deepEqual(chooseThreads(6, browser), { threaded: true, threads: 6, reason: "asked for 6 threads" });
    const notIsolated = chooseThreads(undefined, { ...browser, crossOriginIsolated: false });
    assert.equal(notIsolated.threaded, false);
    assert.equal(notIsolated.threads, 1);
    assert.match(notIsolated.reason, /not cross-origin isolated/);
    // An explicit count falls back the same way rather than failing the page.
    assert.match(chooseThreads(4, { ...browser, crossOriginIsolated: false }).reason, /not cross-origin isolated/);
    assert.match(chooseThreads(undefined, { ...browser, sharedArrayBuffer: false, crossOriginIsolated: false }).reason,
                 /no SharedArrayBuffer/);
    assert.deepEqual(chooseThreads(1, browser), { threaded: false, threads: 1, reason: "asked for 1 thread" });
    assert.match(chooseThreads(undefined, { ...browser, cores: 1 }).reason, /one core/);
    for (const bad of [0, -1, 2.5, "two", MAX_THREADS + 1]) {
      assert.throws(() => chooseThreads(bad, browser), /threads must be/);
    }
    // Node: one thread unless asked.
    const node = threadEnvironment();
    assert.equal(node.isNode, true);
    assert.equal(chooseThreads(undefined, node).threaded, false);
    assert.equal(chooseThreads(2, node).threaded, true);
  });

  test("Hearth with threads: 2 in Node runs the threaded build and replies as with 1 thread", async () => {
    const request = { messages, max_tokens: 24, temperature: 0 };
    const two = await Hearth.create({ model: modelBytes("stories260K"), backend: "wasm", wasmDir: buildDir,
                                      threads: 2 });
    const one = await Hearth.create({ model: modelBytes("stories260K"), backend: "wasm", wasmDir: buildDir });
    try {
      assert.deepEqual(two.backendReport.wasm, { build: "hearth_wasm_mt", threads: 2, reason: "asked for 2 threads" });
      assert.equal(one.backendReport.wasm.build, "hearth_wasm");
      assert.equal(one.backendReport.wasm.threads, 1);
      const a = await two.chat.completions.create(request);
      const b = await one.chat.completions.create(request);
      assert.equal(a.choices[0].message.content, b.choices[0].message.content);
      assert.equal(a.usage.completion_tokens, b.usage.completion_tokens);
    } finally {
      two.unload();
      one.unload();
    }
  });
});
