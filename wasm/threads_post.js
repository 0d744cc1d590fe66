// Linked into hearth_wasm_mt.js with --post-js (wasm/CMakeLists.txt), inside the module's
// factory, so it sees the runtime's own variables. What hearth's JavaScript needs beyond
// emscripten's exports when the module runs threads:
//
// hearthSyncHeap(): with shared memory, a heap growth made by another thread leaves this
// thread's HEAP* views on the old, shorter buffer; emscripten's own JS checks before each
// access, our code calls this before it reads or writes the heap.
Module["hearthSyncHeap"] = function () {
  if (wasmMemory.buffer != buffer) updateGlobalBufferAndViews(wasmMemory.buffer);
};
// hearthTerminateThreads(): ends every pthread Worker. Node keeps a process alive while any
// Worker exists, so a Node caller that is done with the module calls it (after freeing its
// handles); a browser ends them with the Web Worker that hosts the module.
Module["hearthTerminateThreads"] = function () {
  PThread.terminateAllThreads();
};
// hearthRunningThreads(): pthreads running now (the engine's thread pool keeps its workers
// for the session's life), for the tests to see that a session really got its threads.
Module["hearthRunningThreads"] = function () {
  return PThread.runningWorkers.length;
};
