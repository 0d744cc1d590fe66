// The *.nlc.json references (qwen3 and gemma3, from a newer reference build; see
// fixtures/README.md) in the wasm build, with the rules of
// tests/golden/models_nlc_reference_test.cpp: teacher values are log-probabilities, so each
// position is compared relative to the reference's top-1 token; the top-1 must agree where the
// reference's lead exceeds tol*std; the first 8 greedy tokens must be equal; and the raw
// tokenization (no BOS, special tokens as text) is exact.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { createEngine, fixturesDir } from "./engine.mjs";

const refDir = path.join(fixturesDir, "reference");
const tolerances = JSON.parse(readFileSync(path.join(refDir, "tolerances-nlc.json"), "utf8"));
const GREEDY_MUST_MATCH = 8;

function topIds(logits, k) {
  return Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, k);
}

function argmax(logits) {
  let best = 0;
  for (let i = 1; i < logits.length; ++i) if (logits[i] > logits[best]) best = i;
  return best;
}

let engine;
before(async () => {
  engine = await createEngine();
  console.log(`# ${engine.build}, ${engine.threads} thread(s) per session`);
});
after(() => engine?.close());

for (const name of ["tiny-qwen3-f16", "tiny-gemma3-f16"]) {
  describe(name, () => {
    const tol = tolerances[name];
    const ref = JSON.parse(readFileSync(path.join(refDir, `${name}.nlc.json`), "utf8"));
    let h;
    before(() => {
      h = engine.load(readFileSync(path.join(fixturesDir, "models", `${name}.gguf`)));
    });
    // Each session holds its thread pool's pthreads until freed.
    after(() => engine.free(h));

    test("raw tokenization is exact", () => {
      for (const { text, ids } of ref.tokenize) {
        assert.deepEqual(engine.tokenize(h, text, { addSpecial: false, parseSpecial: false }), ids,
                         `text ${JSON.stringify(text)}`);
      }
    });

    test("teacher-forced log-probabilities match relative to the top-1", () => {
      const ids = ref.teacher.ids;
      engine.rewind(h, 0);
      engine.decode(h, ids, { allLogits: true });
      let worst = 0;
      let compared = 0;
      for (let p = 0; p < ids.length; ++p) {
        const logits = engine.logits(h, p);
        const r = ref.teacher.positions[p];
        const ours = topIds(logits, 10);
        const [top1Id, top1] = r.top[0];
        for (const [id, value] of r.top) {
          if (!ours.includes(id)) continue;
          const diff = Math.abs((logits[id] - logits[top1Id]) - (value - top1)) / r.std;
          worst = Math.max(worst, diff);
          ++compared;
          assert.ok(diff <= tol, `position ${p} id ${id}: ${diff} > tol ${tol}`);
        }
        if (r.top.length > 1 && r.top[0][1] - r.top[1][1] > tol * r.std) {
          assert.equal(ours[0], top1Id, `position ${p}: top-1`);
        }
      }
      assert.ok(compared > ids.length, "some log-probabilities were compared");
      console.log(`# ${name}: ${ids.length} positions, ${compared} compared, ` +
                  `max |rel diff|/std ${worst.toFixed(4)} (tol ${tol})`);
    });

    test(`the first ${GREEDY_MUST_MATCH} greedy tokens match`, () => {
      engine.rewind(h, 0);
      engine.decode(h, ref.greedy.prompt_ids);
      const generated = [];
      for (let step = 0; step < GREEDY_MUST_MATCH; ++step) {
        const next = argmax(engine.logits(h));
        generated.push(next);
        engine.decode(h, [next]);
      }
      assert.deepEqual(generated, ref.greedy.generated_ids.slice(0, GREEDY_MUST_MATCH));
    });
  });
}
