// Starting threads, behind one seam: a build without threads (WebAssembly without shared
// memory) implements `Thread::start` as `unsupported`, and every caller already has a path
// that does the work on its own thread instead.
//
// Ownership: a Thread owns one OS thread; it is move-only and joins in its destructor (a
// thread is never detached, so nothing it touches can be freed under it). Thread-safety:
// join() and the destructor belong to the owner's thread.
#pragma once

#include <functional>
#include <thread>

#include "hearth/status.h"

namespace hearth::platform {

class Thread {
 public:
  Thread() = default;
  // Runs `body` on a new thread. Errors: resource_exhausted (the system has no thread to
  // spare), unsupported (a build without threads).
  static Result<Thread> start(std::function<void()> body);

  Thread(Thread&&) noexcept = default;
  Thread& operator=(Thread&& other) noexcept;
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  ~Thread() { join(); }

  bool running() const { return thread_.joinable(); }
  // Waits for the body to return; at once when there is no thread.
  void join();

 private:
  explicit Thread(std::thread thread) : thread_(std::move(thread)) {}
  std::thread thread_;
};

// Threads the hardware runs at once (at least 1).
int hardware_threads();

}  // namespace hearth::platform
