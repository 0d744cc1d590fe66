// The threaded wasm build (hearth_wasm_mt, pthreads over SharedArrayBuffer; Node runs the
// pthreads on worker_threads): a session with 2 threads really runs its thread pool's worker
// as a pthread, decodes the same greedy tokens as with 1 thread and as the single-threaded
// build (stories260K has real weights: exactly the reference's story), and asking for more
// threads than the module's pthread pool holds is an error, not a hang, with the module still
// usable. The shared references on this build with 2 threads run from make test-wasm
// (HEARTH_WASM_THREADS=2 on reference.test.mjs and nlc.test.mjs).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { buildDir, createEngine, fixturesDir } from "./engine.mjs";

const refDir = path.join(fixturesDir, "reference");
const ref = JSON.parse(readFileSync(path.join(refDir, "stories260K.json"), "utf8"));
const stories = readFileSync(path.join(fixturesDir, "models", "stories260K.gguf"));

function argmax(logits) {
  let best = 0;
  for (let i = 1; i < logits.length; ++i) if (logits[i] > logits[best]) best = i;
  return best;
}

// The greedy continuation of the reference's prompt, decoding one token at a time, and every
// teacher-forced logit of the reference's ids.
function run(engine, h) {
  engine.rewind(h, 0);
  engine.decode(h, ref.greedy.prompt_ids);
  const greedy = [];
  for (let step = 0; step < ref.greedy.generated_ids.length; ++step) {
    const next = argmax(engine.logits(h));
    greedy.push(next);
    engine.decode(h, [next]);
  }
  engine.rewind(h, 0);
  engine.decode(h, ref.teacher.ids, { allLogits: true });
  const logits = ref.teacher.ids.map((_, p) => engine.logits(h, p));
  engine.rewind(h, 0);
  return { greedy, logits };
}

let threaded;
before(async () => {
  assert.ok(existsSync(path.join(buildDir, "hearth_wasm_mt.wasm")),
            `no threaded build in ${buildDir} (HEARTH_WASM_THREADS=OFF?)`);
  threaded = await createEngine({ threads: 2 });
});
after(() => threaded?.close());

test("a 2-thread session runs its pool's worker on a pthread and frees it", () => {
  assert.equal(threaded.m.hearthRunningThreads(), 0);
  const h = threaded.load(stories, { threads: 2 });
  assert.equal(threaded.nThreads(h), 2);
  // The engine's pool: the caller plus one worker, which lives as long as the session.
  assert.equal(threaded.m.hearthRunningThreads(), 1);
  threaded.decode(h, [1, 403, 407]);
  threaded.free(h);
  assert.equal(threaded.m.hearthRunningThreads(), 0);
});

test("greedy tokens are identical with 1 and 2 threads and in the single-threaded build", async () => {
  const two = threaded.load(stories, { threads: 2 });
  const one = threaded.load(stories, { threads: 1 });
  const withTwo = run(threaded, two);
  const withOne = run(threaded, one);
  threaded.free(two);
  threaded.free(one);
  const single = await createEngine({ threads: 1 });
  assert.equal(single.build, "hearth_wasm");
  const hs = single.load(stories);
  const singleBuild = run(single, hs);
  single.free(hs);

  assert.deepEqual(withTwo.greedy, ref.greedy.generated_ids);
  assert.deepEqual(withOne.greedy, withTwo.greedy);
  assert.deepEqual(singleBuild.greedy, withTwo.greedy);
  // Not required by the references, but worth knowing: does the split change any bit?
  let maxDiff = 0;
  for (let p = 0; p < withTwo.logits.length; ++p) {
    for (let i = 0; i < withTwo.logits[p].length; ++i) {
      maxDiff = Math.max(maxDiff, Math.abs(withTwo.logits[p][i] - withOne.logits[p][i]),
                         Math.abs(singleBuild.logits[p][i] - withOne.logits[p][i]));
    }
  }
  console.log(`# stories260K teacher-forced logits, 1 vs 2 threads vs single-threaded build: ` +
              `max |diff| ${maxDiff}`);
});

test("more threads than the pthread pool is an error, and the module stays usable", () => {
  // The pool holds 2 Workers (createEngine sized it for 2 threads); 4 threads need 3.
  assert.throws(() => threaded.load(stories, { threads: 4 }), /load: .*threads/);
  assert.equal(threaded.m.hearthRunningThreads(), 0, "the started workers were stopped");
  assert.throws(() => threaded.load(stories, { threads: 65 }), /load: n_threads = 65 is above 64/);
  const h = threaded.load(stories, { threads: 2 });
  threaded.decode(h, [1, 403]);
  assert.equal(threaded.logits(h).length, 512);
  threaded.free(h);
});

test("the single-threaded build refuses more than one thread and says which build has them", async () => {
  const single = await createEngine({ threads: 1 });
  assert.throws(() => single.load(stories, { threads: 2 }), /hearth_wasm_mt\.js/);
});
