// A fixed pool of worker threads for data-parallel loops.
//
// `parallel_for` splits [0, n) into contiguous chunks, runs them on the workers and the
// calling thread, and returns when all are done. Idle workers sleep on a condition variable
// (no spinning while the engine waits for a request). One caller at a time per pool: the
// pool is owned by a model session and driven from that session's thread.
//
// Part of the platform layer (it owns OS threads), so kernels/ and models/ can run their loops
// on it without depending on runtime/. It stays in namespace hearth because the public
// SessionOptions::pool names it there.
#pragma once

#include <cstdint>
#include <functional>

namespace hearth {

class ThreadPool {
 public:
  // n_threads counts the caller; 1 means no workers. Throws std::system_error when a worker
  // cannot start (those already started are stopped first).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // fn(begin, end) over chunks of [0, n); chunks are at least `grain` long.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  struct State;
  void stop_workers();  // stops and joins the workers, frees state_
  int n_threads_;
  State* state_;
};

// Runs fn over [0, n) on `pool`, or on the calling thread alone when `pool` is null.
inline void parallel_for(ThreadPool* pool, int64_t n, int64_t grain,
                         const std::function<void(int64_t, int64_t)>& fn) {
  if (pool) {
    pool->parallel_for(n, grain, fn);
  } else if (n > 0) {
    fn(0, n);
  }
}

}  // namespace hearth
