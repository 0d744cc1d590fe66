// The heap above 2 GiB (docs/wasm.md, "Memory"): a wasm32 pointer at or above 2 GiB reaches
// JavaScript as a negative i32, which every JS caller must read as unsigned. This test keeps
// about 2.1 GiB of the heap allocated before loading a fixture, so the model's bytes, its
// logits and every buffer after them sit above the line, then checks the references as
// reference.test.mjs does: through the JS package's engine (wasm/js/engine.js, what the
// browser runs) and through the Node wrapper (engine.mjs).
//
// The reserved blocks are never written, so they cost address space rather than memory.
// HEARTH_WASM_THREADS=2 runs it on the threaded build (a shared memory of 4 GiB maximum).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { loadWasmEngine } from "../js/engine.js";
import { createEngine, fixturesDir } from "./engine.mjs";
import { argmax, checkMeanStd, checkTeacherPosition, greedyVerdicts, logitStats }
  from "./reference_rules.mjs";

const TWO_GIB = 2 ** 31;
// The test's own reading of a returned pointer (not the wrappers'), so that it checks them.
const ptrOf = (p) => p >>> 0;
// dlmalloc refuses one request of 2 GiB or more, so the reserve is taken in three blocks.
const RESERVE_BLOCK = 720 * 2 ** 20;
const RESERVE_BLOCKS = 3;
const CHUNK = 1 << 20;  // the model file goes in as a download would, chunk by chunk

const refDir = path.join(fixturesDir, "reference");
const readJson = (file) => JSON.parse(readFileSync(path.join(refDir, file), "utf8"));
const readModel = (name) => readFileSync(path.join(fixturesDir, "models", `${name}.gguf`));

let engine;  // engine.mjs's wrapper; engine.m is the module both paths use
const reserved = [];
before(async () => {
  engine = await createEngine();
  console.log(`# ${engine.build}, ${engine.threads} thread(s) per session`);
  for (let i = 0; i < RESERVE_BLOCKS; ++i) {
    const p = ptrOf(engine.m._malloc(RESERVE_BLOCK));
    assert.ok(p, `could not reserve block ${i} of ${RESERVE_BLOCK} bytes`);
    reserved.push(p);
  }
  const top = Math.max(...reserved) + RESERVE_BLOCK;
  assert.ok(top > TWO_GIB, `the reserve ends at ${top}, below 2 GiB`);
});
after(() => {
  for (const p of reserved) engine?.m._free(p);
  engine?.close();
});

// One fixture with real weights (greedy tokens exact) and one quantized with a big vocabulary.
for (const name of ["stories260K", "tiny-qwen2-q8_0"]) {
  describe(`${name} above 2 GiB`, () => {
    const tol = readJson("tolerances.json")[name];
    const quantized = readJson(`${name}.json`);
    const exact = readJson(`${name}.exact.json`);
    const files = [quantized, exact];
    const bytes = readModel(name);
    let wasm;  // the package's WasmEngine

    before(async () => {
      wasm = await loadWasmEngine(engine.m, bytes.length, async (write) => {
        for (let offset = 0; offset < bytes.length; offset += CHUNK) {
          write(bytes.subarray(offset, offset + CHUNK), offset);
        }
      }, { threads: engine.threads });
    });
    after(() => wasm?.free());

    test("the model's tensors sit above 2 GiB", () => {
      const desc = JSON.parse(engine.m.UTF8ToString(ptrOf(engine.m._hearth_model_desc(wasm.h))));
      assert.ok(desc.tensors.length > 0);
      for (const t of desc.tensors) assert.ok(t.ptr >= TWO_GIB, `${t.name} at ${t.ptr}`);
      assert.equal(desc.n_vocab, wasm.info.nVocab);
    });

    test("tokenization is exact", () => {
      for (const { text, ids } of quantized.tokenize) {
        assert.deepEqual(Array.from(wasm.tokenize(text, true, true)), ids,
                         `text ${JSON.stringify(text)}`);
      }
    });

    test("teacher-forced logits match the reference (one token per decode)", async () => {
      const ids = quantized.teacher.ids;
      wasm.rewind(0);
      let worst = 0;
      for (let p = 0; p < ids.length; ++p) {
        const logits = await wasm.decode(Int32Array.of(ids[p]));
        if (p === 0) {
          const at = ptrOf(engine.m._hearth_logits(wasm.h, -1));
          assert.ok(at >= TWO_GIB, `the logits sit at ${at}, below 2 GiB`);
        }
        const got = logitStats(logits);
        worst = Math.max(worst, checkTeacherPosition(files, p, got, tol).worst);
        checkMeanStd(files, p, got, tol);
      }
      console.log(`# ${name}: ${ids.length} positions, max |diff|/std ${worst.toFixed(4)} ` +
                  `(tol ${tol})`);
    });

    test("greedy continuation matches the reference, by both wrappers", async () => {
      const prompt = quantized.greedy.prompt_ids;
      const nSteps = Math.max(quantized.greedy.generated_ids.length,
                              exact.greedy.generated_ids.length);
      wasm.rewind(0);
      let logits = await wasm.decode(Int32Array.from(prompt));
      const generated = [];
      const stds = [];
      for (let step = 0; step < nSteps; ++step) {
        stds.push(logitStats(logits, 1).std);
        generated.push(argmax(logits));
        if (step + 1 < nSteps) logits = await wasm.decode(Int32Array.of(generated.at(-1)));
      }
      const verdicts = greedyVerdicts(files, generated, stds, tol);
      assert.ok(verdicts.some(({ need, have }) => have >= need),
                `greedy diverges early: ${JSON.stringify(verdicts)}`);
      if (name === "stories260K") assert.deepEqual(generated, quantized.greedy.generated_ids);

      // engine.mjs: hearth_load copies the file through a _malloc'ed buffer (above the line),
      // then the C API's own greedy loop.
      const h = engine.load(bytes);
      try {
        const viaApi = engine.generate(h, prompt, { maxTokens: nSteps, temperature: 0 });
        assert.deepEqual(viaApi, generated.slice(0, viaApi.length));
        assert.ok(ptrOf(engine.m._hearth_logits(h, -1)) >= TWO_GIB);
        if (name === "stories260K") {
          // Strings come back through UTF8ToString at addresses above the line.
          const text = engine.detokenize(h, viaApi);
          const pieces = Buffer.concat(viaApi.map((id) => wasm.tokenPiece(id)));
          assert.equal(new TextDecoder().decode(pieces).trim(), text.trim());
          assert.match(text, /Lily/);
        }
      } finally {
        engine.free(h);
      }
    });

    test("a chat template renders", () => {
      const rendered = engine.applyTemplate(
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}",
        { messages: [{ role: "user", content: "high heap" }], add_generation_prompt: false });
      assert.equal(rendered, "<user>high heap");
      if (typeof wasm.info.chatTemplate === "string") {
        assert.match(wasm.applyTemplate([{ role: "user", content: "high heap" }], true),
                     /high heap/);
      }
    });
  });
}

test("a model file over 2^31 - 1 bytes is refused before anything is allocated", async () => {
  let filled = false;
  await assert.rejects(loadWasmEngine(engine.m, 2 ** 31, async () => { filled = true; }),
                       /at most 2 GiB, in a heap of at most 4 GiB/);
  assert.equal(filled, false);
});
