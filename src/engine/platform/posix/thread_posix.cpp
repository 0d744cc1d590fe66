// Threads on POSIX: std::thread (pthreads underneath). Kept behind platform/thread.h so that a
// build without threads replaces this file, not the engine code that starts threads.
#include <system_error>
#include <utility>

#include "engine/platform/thread.h"

namespace hearth::platform {

Result<Thread> Thread::start(std::function<void()> body) {
  try {
    return Thread(std::thread(std::move(body)));
  } catch (const std::system_error& e) {
    return resource_exhausted(std::string("cannot start a thread: ") + e.what());
  }
}

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this != &other) {
    join();
    thread_ = std::move(other.thread_);
  }
  return *this;
}

void Thread::join() {
  if (thread_.joinable()) thread_.join();
}

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace hearth::platform
