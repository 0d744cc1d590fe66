// fixtures/README.md's rules for an engine's logits against a model's two references
// (MODEL.json from a quantized run, MODEL.exact.json from an exact one), in one place for every
// JS test that applies them: wasm/test (Node, WebGPU) and tests/e2e (the engine in chromium).
import assert from "node:assert/strict";

// Position p of the teacher-forced text. `got.top` is the engine's [id, logit] list, best
// first. Each reference top id the engine also ranked must be within tol*std of the same id in
// either file; the argmax must agree where both files agree with a clear lead. `label`
// prefixes the assertion messages. Returns { worst, compared } for the position.
export function checkTeacherPosition(files, p, got, tol, label = "") {
  const ranked = new Map(got.top);
  const candidates = new Set();
  for (const f of files) {
    for (const [id] of f.teacher.positions[p].top) if (ranked.has(id)) candidates.add(id);
  }
  let worst = 0;
  for (const id of candidates) {
    let best = Infinity;
    for (const f of files) {
      const pos = f.teacher.positions[p];
      for (const [refId, refLogit] of pos.top) {
        if (refId === id) best = Math.min(best, Math.abs(ranked.get(id) - refLogit) / pos.std);
      }
    }
    worst = Math.max(worst, best);
    assert.ok(best <= tol, `${label}position ${p} id ${id}: |diff|/std ${best} > tol ${tol}`);
  }
  const [q, e] = files.map((f) => f.teacher.positions[p]);
  const clear = q.top[0][1] - q.top[1][1] > 2 * tol * q.std &&
                e.top[0][1] - e.top[1][1] > 2 * tol * e.std;
  if (q.top[0][0] === e.top[0][0] && clear) {
    assert.equal(got.top[0][0], q.top[0][0], `${label}position ${p}: argmax`);
  }
  return { worst, compared: candidates.size };
}

// The greedy continuation: per file, `need` is how many leading steps have a top-1 gap of at
// least 2*tol times the engine's logit std there (`stds[step]`), `have` how many leading
// tokens the engine generated as the file did. The engine passes when some file has
// have >= need.
export function greedyVerdicts(files, generated, stds, tol) {
  return files.map((f) => {
    let need = 0;
    while (need < f.greedy.generated_ids.length && need < stds.length &&
           f.greedy.top1_gaps[need] >= 2 * tol * stds[need]) {
      ++need;
    }
    let have = 0;
    while (have < generated.length && generated[have] === f.greedy.generated_ids[have]) ++have;
    return { need, have };
  });
}

// The engine's side of the comparison: its top-k [id, logit] list (best first) and the mean
// and standard deviation of all its logits.
export function logitStats(logits, k = 10) {
  const ids = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, k);
  let sum = 0;
  for (const v of logits) sum += v;
  const mean = sum / logits.length;
  let sq = 0;
  for (const v of logits) sq += (v - mean) * (v - mean);
  return { top: ids.map((id) => [id, logits[id]]), mean, std: Math.sqrt(sq / logits.length) };
}

export function argmax(logits) {
  let best = 0;
  for (let i = 1; i < logits.length; ++i) if (logits[i] > logits[best]) best = i;
  return best;
}

// Position p's logits mean and std (`got`, from logitStats) within tol*std of either file's.
export function checkMeanStd(files, p, got, tol, label = "") {
  const ok = files.some((f) => {
    const pos = f.teacher.positions[p];
    return Math.abs(got.mean - pos.mean) <= tol * pos.std &&
           Math.abs(got.std - pos.std) <= tol * pos.std;
  });
  const q = files[0].teacher.positions[p];
  assert.ok(ok, `${label}position ${p}: mean ${got.mean} std ${got.std} vs reference ` +
                `mean ${q.mean} std ${q.std}`);
}
