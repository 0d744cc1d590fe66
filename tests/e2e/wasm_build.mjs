// Where the browser tests find the wasm build, and why they skip when there is none: a machine
// without emscripten cannot make one, while a missing build where emcc exists is a failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const wasmDir = process.env.HEARTH_WASM_BUILD ?? path.resolve('../../build-wasm');
export const haveBuild = fs.existsSync(path.join(wasmDir, 'hearth_wasm.wasm'));

function emccInstalled() {
  try {
    execFileSync('emcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const skipReason = !haveBuild && !emccInstalled()
  ? 'emscripten is not installed, so there is no wasm build to test (apt-get install emscripten)'
  : false;
