// The shared references' rules (fixtures/README.md, wasm/test/reference_rules.mjs) for logits
// and greedy tokens that a browser test got from the in-browser engine. Used by browser_engine.test.mjs (wasm) and browser_webgpu.test.mjs (WebGPU).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkTeacherPosition, greedyVerdicts } from '../../wasm/test/reference_rules.mjs';
import { fixtures } from './harness.mjs';

const refDir = path.join(fixtures, 'reference');
export const readJson = (file) => JSON.parse(fs.readFileSync(path.join(refDir, file), 'utf8'));

export function checkTeacher(name, positions) {
  const tol = readJson('tolerances.json')[name];
  const files = [readJson(`${name}.json`), readJson(`${name}.exact.json`)];
  let worst = 0;
  positions.forEach((got, p) => {
    worst = Math.max(worst, checkTeacherPosition(files, p, got, tol, `${name} `).worst);
  });
  return { worst, tol };
}

export function checkGreedy(name, generated, stds) {
  const tol = readJson('tolerances.json')[name];
  const files = [readJson(`${name}.json`), readJson(`${name}.exact.json`)];
  const ok = greedyVerdicts(files, generated, stds, tol).some(({ need, have }) => have >= need);
  assert.ok(ok, `${name}: greedy ${generated} diverges early from the references`);
}
