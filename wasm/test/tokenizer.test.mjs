// The shared tokenizer vectors (fixtures/tokenizer, see fixtures/README.md) in the wasm build,
// as tests/golden/tokenizer_vectors_test.cpp checks them natively: ids without BOS/EOS and
// without special-token parsing, and decode(encode(text)) == text where the vocabulary is
// lossless. Vocabularies whose pre-tokenizer is a regex are refused in wasm for now.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";

import { createEngine, fixturesDir } from "./engine.mjs";

const tokDir = path.join(fixturesDir, "tokenizer");

// Every text, the last included, is followed by "\n__ggml_vocab_test__\n".
function readTexts(file) {
  const parts = readFileSync(file, "utf8").split("\n__ggml_vocab_test__\n");
  parts.pop();
  return parts;
}

function readIds(file) {
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line) => line.split(/\s+/).filter((s) => s !== "").map(Number));
}

const CASES = [
  { vectors: "ggml-vocab-llama-spm.gguf", lossless: true },
  { vectors: "ggml-vocab-phi-3.gguf", lossless: true },
  { vectors: "ggml-vocab-bert-bge.gguf", lossless: false },
];

let engine;
before(async () => {
  engine = await createEngine();
});

for (const { vectors, lossless } of CASES) {
  test(`${vectors} matches the reference ids`, () => {
    const h = engine.loadTokenizer(readFileSync(path.join(tokDir, vectors)));
    const texts = readTexts(path.join(tokDir, `${vectors}.inp`));
    const expected = readIds(path.join(tokDir, `${vectors}.out`));
    assert.ok(texts.length > 0);
    assert.equal(texts.length, expected.length);
    for (let i = 0; i < texts.length; ++i) {
      const ids = engine.tokenize(h, texts[i], { addSpecial: false, parseSpecial: false });
      assert.deepEqual(ids, expected[i], `text ${i} ${JSON.stringify(texts[i])}`);
      if (lossless) {
        assert.equal(engine.detokenize(h, ids, { renderSpecial: true }), texts[i],
                     `text ${i} round trip`);
      }
    }
    engine.free(h);
  });
}

test("a regex (byte-level BPE) vocabulary is refused with a clear message", () => {
  assert.throws(
    () => engine.loadTokenizer(readFileSync(path.join(tokDir, "ggml-vocab-gpt-2.gguf"))),
    /no regex engine/);
});
