// The Web Worker that runs a model for hearth.js, so decoding never blocks the page.
//
// A classic worker (not a module worker): emscripten's factory (hearth_wasm.js) is a classic
// script loaded with importScripts, which module workers lack; our own ES modules come in
// through dynamic import(), which classic workers have.
//
// Messages in:  { type: "init", options, builds: { single, threaded } } (each build's
//                 { factoryUrl, wasmUrl }: hearth_wasm.js/.wasm, hearth_wasm_mt.js/.wasm)
//               { type: "chat", id, request } | { type: "abort", id }
//               { type: "probe", id, kind: "teacher" | "greedy" | "tokenize", args }
//               { type: "unload" }
// Messages out: { type: "progress", progress } | { type: "ready", report }
//               { type: "event", id, event } (generate.js's events; "done" ends a chat)
//               { type: "result", id, value } | { type: "error", id?, message }
let runner = null;
const aborts = new Map();  // chat id -> the { aborted } its loop checks between tokens
// One engine, one KV cache: chats and probes run one after another, even when the page starts
// a new chat while an aborted one is still unwinding.
let turn = Promise.resolve();
const inTurn = (fn) => (turn = turn.then(fn, fn));

// The .wasm bytes of a build, or an Error saying why not. The .wasm comes first: when the
// server has no wasm build its 404 says how to make one, which importScripts' bare network
// error would not.
async function fetchWasm(wasmUrl) {
  const res = await fetch(wasmUrl);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).error?.message ?? message;
    } catch { /* not JSON */ }
    return new Error(`cannot fetch the wasm engine (${wasmUrl}): ${message}`);
  }
  return res.arrayBuffer();
}

async function init({ options, builds }) {
  const { chooseThreads, threadEnvironment } = await import("./threads.js");
  let choice = chooseThreads(options.threads, threadEnvironment(self));
  let build = choice.threaded ? builds.threaded : builds.single;
  let wasmBinary = await fetchWasm(build.wasmUrl);
  if (wasmBinary instanceof Error && choice.threaded) {
    // A server with only the single-threaded build still runs the model, and says so.
    choice = { threaded: false, threads: 1,
               reason: `single-threaded: the threaded build is missing (${wasmBinary.message})` };
    build = builds.single;
    wasmBinary = await fetchWasm(build.wasmUrl);
  }
  if (wasmBinary instanceof Error) throw wasmBinary;
  importScripts(build.factoryUrl);
  const { Runner } = await import("./runner.js");
  runner = await Runner.create(options, {
    factory: self.createHearthWasm,
    wasmBinary,
    threads: choice,
    factoryUrl: build.factoryUrl,
    onProgress: (progress) => postMessage({ type: "progress", progress }),
  });
  postMessage({ type: "ready", report: runner.report });
}

async function chat(id, request) {
  const signal = aborts.get(id) ?? { aborted: false };
  try {
    for await (const event of runner.chat(request, signal)) {
      if (event.type === "done") event.report = runner.report;
      postMessage({ type: "event", id, event });
    }
  } finally {
    aborts.delete(id);
  }
}

async function probe(id, kind, args) {
  const value = kind === "teacher" ? await runner.teacherForced(...args)
    : kind === "greedy" ? await runner.greedy(...args)
    : runner.tokenize(...args);
  postMessage({ type: "result", id, value });
}

self.onmessage = (e) => {
  const msg = e.data;
  let work;
  switch (msg.type) {
    case "init": work = init(msg); break;
    case "chat":
      // Registered now, so an abort that arrives while the chat waits for its turn counts.
      aborts.set(msg.id, { aborted: false });
      work = inTurn(() => chat(msg.id, msg.request));
      break;
    case "probe": work = inTurn(() => probe(msg.id, msg.kind, msg.args)); break;
    case "abort": {
      const signal = aborts.get(msg.id);
      if (signal) signal.aborted = true;
      return;
    }
    case "unload":
      inTurn(() => {
        runner?.unload();
        runner = null;
      });
      return;
    default:
      work = Promise.reject(new Error(`unknown message ${msg.type}`));
  }
  work.catch((err) => postMessage({ type: "error", id: msg.id, message: String(err?.message ?? err) }));
};
