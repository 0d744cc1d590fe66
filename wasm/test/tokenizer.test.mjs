// The shared tokenizer vectors (fixtures/tokenizer, see fixtures/README.md) in the wasm build,
// as tests/golden/tokenizer_vectors_test.cpp checks them natively: ids without BOS/EOS and
// without special-token parsing, and decode(encode(text)) == text where the vocabulary is
// lossless. Regex pre-tokenizers run on the built-in matchers of the GPT-2, Llama-3 and Qwen2
// expressions; other ones are refused in wasm for now.
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

// vocab: the GGUF holding the vocabulary, relative to the fixtures (default: tokenizer/VECTORS).
const CASES = [
  { vectors: "ggml-vocab-llama-spm.gguf", lossless: true },
  { vectors: "ggml-vocab-phi-3.gguf", lossless: true },
  { vectors: "ggml-vocab-bert-bge.gguf", lossless: false },
  // Byte-level BPE on the built-in pre-tokenizer matchers (pretokenize_builtin.cpp).
  { vectors: "ggml-vocab-gpt-2.gguf", lossless: true },
  { vectors: "ggml-vocab-mpt.gguf", lossless: true },
  { vectors: "vocab-qwen2", vocab: "models/tiny-qwen2-q8_0.gguf", lossless: true },
  { vectors: "vocab-deepseek-r1-qwen", vocab: "models/tiny-qwen2-q8_0.gguf", lossless: true },
  { vectors: "vocab-llama-bpe", vocab: "models/tiny-llama3-q8_0.gguf", lossless: true },
];

let engine;
before(async () => {
  engine = await createEngine();
});

for (const { vectors, vocab, lossless } of CASES) {
  test(`${vectors} matches the reference ids`, () => {
    const vocabFile = path.join(fixturesDir, vocab ?? path.join("tokenizer", vectors));
    const h = engine.loadTokenizer(readFileSync(vocabFile));
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

test("a pre-tokenizer without a built-in matcher is refused with a clear message", () => {
  assert.throws(
    () => engine.loadTokenizer(readFileSync(path.join(tokDir, "ggml-vocab-starcoder.gguf"))),
    /no regex engine/);
});
