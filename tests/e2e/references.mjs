// The shared references' rules (fixtures/README.md) for logits and greedy tokens that a
// browser test got from the in-browser engine, as wasm/test/reference.test.mjs applies them in
// Node. Used by browser_engine.test.mjs (wasm) and browser_webgpu.test.mjs (WebGPU).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixtures } from './harness.mjs';

const refDir = path.join(fixtures, 'reference');
export const readJson = (file) => JSON.parse(fs.readFileSync(path.join(refDir, file), 'utf8'));

// fixtures/README.md's rules, as wasm/test/reference.test.mjs applies them in Node.
export function checkTeacher(name, positions) {
  const tol = readJson('tolerances.json')[name];
  const files = [readJson(`${name}.json`), readJson(`${name}.exact.json`)];
  let worst = 0;
  positions.forEach((got, p) => {
    const ranked = new Map(got.top);
    for (const f of files) {
      for (const [id] of f.teacher.positions[p].top) {
        if (!ranked.has(id)) continue;
        let best = Infinity;
        for (const g of files) {
          const pos = g.teacher.positions[p];
          for (const [refId, refLogit] of pos.top) {
            if (refId === id) best = Math.min(best, Math.abs(ranked.get(id) - refLogit) / pos.std);
          }
        }
        worst = Math.max(worst, best);
        assert.ok(best <= tol, `${name} position ${p} id ${id}: |diff|/std ${best} > ${tol}`);
      }
    }
    const [q, e] = files.map((f) => f.teacher.positions[p]);
    const clear = q.top[0][1] - q.top[1][1] > 2 * tol * q.std && e.top[0][1] - e.top[1][1] > 2 * tol * e.std;
    if (q.top[0][0] === e.top[0][0] && clear) assert.equal(got.top[0][0], q.top[0][0], `${name} argmax at ${p}`);
  });
  return { worst, tol };
}

export function checkGreedy(name, generated, stds) {
  const tol = readJson('tolerances.json')[name];
  const files = [readJson(`${name}.json`), readJson(`${name}.exact.json`)];
  const ok = files.some((f) => {
    let need = 0;
    while (need < f.greedy.generated_ids.length && need < stds.length &&
           f.greedy.top1_gaps[need] >= 2 * tol * stds[need]) ++need;
    let have = 0;
    while (have < generated.length && generated[have] === f.greedy.generated_ids[have]) ++have;
    return have >= need;
  });
  assert.ok(ok, `${name}: greedy ${generated} diverges early from the references`);
}
