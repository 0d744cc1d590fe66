// Which wasm build runs, and on how many threads. The threaded build (hearth_wasm_mt.js,
// pthreads) needs SharedArrayBuffer, which a browser hands out only to a cross-origin
// isolated page (COOP + COEP headers, as hearth serve sends them); anywhere else the
// single-threaded build (hearth_wasm.js) runs.
//
// By default a browser gets min(navigator.hardwareConcurrency, DEFAULT_MAX_THREADS) threads:
// generation reads every weight once per token, and beyond a few threads the memory, not
// the cores, sets the pace (docs/wasm.md has the measurements). Node (tests, benchmarks) runs
// single-threaded unless `threads` asks for more: it has SharedArrayBuffer and worker_threads
// but no page to isolate.

export const DEFAULT_MAX_THREADS = 4;
// The pthread pool is one Web Worker per thread; past this many a page gains nothing.
export const MAX_THREADS = 16;

// The environment as `chooseThreads` needs it, read from this global scope (a page, a Web
// Worker, or Node).
export function threadEnvironment(scope = globalThis) {
  const isNode = typeof scope.process?.versions?.node === "string" && typeof scope.window === "undefined" &&
    typeof scope.WorkerGlobalScope === "undefined";
  return {
    isNode,
    crossOriginIsolated: scope.crossOriginIsolated === true,
    sharedArrayBuffer: typeof scope.SharedArrayBuffer === "function",
    cores: Number(scope.navigator?.hardwareConcurrency) || 1,
  };
}

// `requested`: the `threads` option (undefined or "auto": choose; a number: that many).
// Returns { threaded, threads, reason } where `threaded` picks hearth_wasm_mt over
// hearth_wasm. A number that cannot be honoured falls back to one thread and says why (as
// "auto" backends do), rather than failing a page that still works single-threaded.
export function chooseThreads(requested, env) {
  if (requested !== undefined && requested !== "auto" &&
      !(Number.isInteger(requested) && requested >= 1 && requested <= MAX_THREADS)) {
    throw new Error(`threads must be "auto" or an integer in [1, ${MAX_THREADS}], not ${JSON.stringify(requested)}`);
  }
  const explicit = typeof requested === "number";
  const single = (reason) => ({ threaded: false, threads: 1, reason });
  if (explicit && requested === 1) return single("asked for 1 thread");
  if (!env.sharedArrayBuffer) {
    return single("single-threaded: this context has no SharedArrayBuffer" +
                  (env.isNode ? "" : " (the page is not cross-origin isolated)"));
  }
  if (env.isNode) {
    return explicit ? { threaded: true, threads: requested, reason: `asked for ${requested} threads` }
      : single("single-threaded: Node runs one thread unless `threads` asks for more");
  }
  if (!env.crossOriginIsolated) {
    return single("single-threaded: the page is not cross-origin isolated (it needs the " +
                  "Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers)");
  }
  if (explicit) return { threaded: true, threads: requested, reason: `asked for ${requested} threads` };
  const threads = Math.min(env.cores, DEFAULT_MAX_THREADS);
  if (threads < 2) return single("single-threaded: the browser reports one core");
  return { threaded: true, threads, reason: `cross-origin isolated: ${threads} threads ` +
           `(of ${env.cores} cores, at most ${DEFAULT_MAX_THREADS} by default)` };
}
