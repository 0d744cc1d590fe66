// Runs build-wasm/kernel_check.js (wasm/test/kernel_check.cpp): the wasm_simd128 row dots
// against the portable ones, bit for bit, inside the wasm build.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";

import { buildDir } from "./engine.mjs";

test("wasm_simd128 Q8_0/Q4_0/Q4_K/Q5_K/Q6_K/F32/F16 row dots equal the scalar kernels bit for bit", () => {
  // Without fetch, emscripten's loader reads the .wasm from disk instead of fetching a path.
  const run = spawnSync(process.execPath,
                        ["--no-experimental-fetch", path.join(buildDir, "kernel_check.js")],
                        { encoding: "utf8" });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /[1-9]\d* row-dot calls compared with the scalar kernels, 0 differ/);
});
