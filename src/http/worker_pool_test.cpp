#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace hearth::http {
namespace {

using namespace std::chrono_literals;

TEST(WorkerPool, RunsEveryTaskOfABurstOnItsMinimumThreads) {
  WorkerPool pool(2, 64);
  std::atomic<int> done{0};
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(pool.submit([&] { done.fetch_add(1); }));
  }
  for (int i = 0; i < 500 && done < 1000; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(done.load(), 1000);
  // Quick tasks never looked stuck, so the pool did not grow for them.
  EXPECT_EQ(pool.threads(), 2);
}

TEST(WorkerPool, GrowsWhenEveryThreadWaitsAndTasksQueue) {
  WorkerPool pool(2, 64);
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> started{0};
  for (int i = 0; i < 20; ++i) {
    pool.submit([&] {
      started.fetch_add(1);
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return release; });
    });
  }
  for (int i = 0; i < 1000 && started < 20; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(started.load(), 20);
  EXPECT_GE(pool.threads(), 20);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  pool.stop();
  EXPECT_EQ(pool.threads(), 0);
}

TEST(WorkerPool, RefusesTasksAfterStopAndRunsCleanUpInline) {
  WorkerPool pool(1, 1);
  pool.stop();
  std::function<void()> task = [] {};
  EXPECT_FALSE(pool.submit(std::move(task)));
  bool ran = false;
  pool.run_or_inline([&] { ran = true; });
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace hearth::http
