// The threads that run route handlers and stream producers, off the event loop.
//
// Elastic: `min_threads` always run and take a burst of quick tasks between them. A monitor
// looks every few milliseconds: when tasks wait and none finished since its last look (every
// thread is held by a handler that waits, e.g. a non-streamed completion waiting for its
// generation), it adds threads, up to `max_threads`, so `GET /health` does not queue behind
// them. A thread idle for `idle_exit` beyond the minimum ends.
//
// Thread-safety: every method may be called from any thread. stop() (and the destructor)
// waits for the running tasks and drops queued ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth::http {

class WorkerPool {
 public:
  WorkerPool(int min_threads, int max_threads,
             std::chrono::milliseconds idle_exit = std::chrono::seconds(30));
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false once stop() was called (then `task` is left as it was). A task must
  // not throw.
  bool submit(std::function<void()>&& task);
  // Queues `task`, or runs it here when the pool has stopped (clean-up that must happen).
  void run_or_inline(std::function<void()> task);
  // Lets the running tasks finish, drops the queued ones and joins every thread.
  void stop();

  int threads() const;
  int busy() const;
  size_t queued() const;

 private:
  void run();
  void monitor();
  void spawn_locked();

  const int min_threads_;
  const int max_threads_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> exited_;  // ended threads not yet joined
  std::thread monitor_;
  std::condition_variable monitor_wake_;
  uint64_t finished_tasks_ = 0;
  int alive_ = 0;
  int idle_ = 0;
  bool stopping_ = false;
};

}  // namespace hearth::http
