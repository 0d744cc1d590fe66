// Linked into hearth_wasm_mt.js with --pre-js (wasm/CMakeLists.txt): it runs inside the
// module's factory, where `Module` is the object its caller passed, before emscripten's
// pthread runtime reads PTHREAD_POOL_SIZE (set to `Module.hearthPoolSize` at link time).
//
// The pool is how many Workers start with the module, each ready to run a thread at once.
// emscripten 3.1.6 marks the module ready only after its pool has loaded, and with an empty
// pool it never does; hence at least one, whatever the caller passed.
Module["hearthPoolSize"] = Math.max(1, Math.floor(Number(Module["hearthPoolSize"])) || 1);
