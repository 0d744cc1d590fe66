#include "engine/platform/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace hearth {
namespace {

void expect_each_index_once(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    EXPECT_LT(begin, end);
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 7, 64, 1000, 4097}) {
      for (int64_t grain : {1, 3, 100}) expect_each_index_once(pool, n, grain);
    }
  }
}

TEST(ThreadPool, ChunksRespectGrain) {
  ThreadPool pool(4);
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  pool.parallel_for(1000, 64, [&](int64_t b, int64_t e) {
    std::lock_guard lock(mutex);
    chunks.emplace_back(b, e);
  });
  for (auto [b, e] : chunks) {
    if (e != 1000) {
      EXPECT_GE(e - b, 64);
    }
  }
}

// Each thread takes a shrinking share of its run (a quarter of what is left), so its first
// pieces are large and its last ones a single chunk: a thread that runs dry never waits long
// for the other's last piece.
TEST(ThreadPool, PiecesShrinkTowardTheEndOfARun) {
  ThreadPool pool(2);
  std::mutex mutex;
  std::vector<int64_t> sizes;
  pool.parallel_for(6400, 1, [&](int64_t b, int64_t e) {
    std::lock_guard lock(mutex);
    sizes.push_back(e - b);
  });
  // 128 chunks of 50; a run of 64 chunks is claimed 16, 12, 9, ... then 1 at a time.
  int64_t total = 0;
  for (int64_t size : sizes) {
    EXPECT_EQ(size % 50, 0) << size;
    EXPECT_LE(size, 16 * 50);
    total += size;
  }
  EXPECT_EQ(total, 6400);
  EXPECT_NE(std::find(sizes.begin(), sizes.end(), 50), sizes.end());
  EXPECT_NE(std::find(sizes.begin(), sizes.end(), 16 * 50), sizes.end());
}

TEST(ThreadPool, UsesSeveralThreads) {
  ThreadPool pool(2);
  std::mutex mutex;
  std::condition_variable second_thread_arrived;
  std::set<std::thread::id> ids;
  // Every chunk blocks until two distinct threads have entered one, so a single thread cannot
  // take all chunks; the timeout only keeps a broken pool from hanging the suite.
  pool.parallel_for(8, 1, [&](int64_t, int64_t) {
    std::unique_lock lock(mutex);
    ids.insert(std::this_thread::get_id());
    second_thread_arrived.notify_all();
    second_thread_arrived.wait_for(lock, std::chrono::seconds(10), [&] { return ids.size() >= 2; });
  });
  EXPECT_EQ(ids.size(), 2u);
}

TEST(ThreadPool, ManyConsecutiveJobs) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 2000; ++job) {
    pool.parallel_for(50, 1, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  }
  EXPECT_EQ(total.load(), 2000 * 50);
}

TEST(ThreadPool, ExceptionReachesCallerAndPoolSurvives) {
  ThreadPool pool(4);
  EXPECT_THROW(pool.parallel_for(100, 1,
                                 [](int64_t b, int64_t) {
                                   if (b >= 50) throw std::runtime_error("chunk failed");
                                 }),
               std::runtime_error);
  expect_each_index_once(pool, 500, 1);
}

TEST(ThreadPool, DestroyWhileIdle) {
  for (int i = 0; i < 50; ++i) ThreadPool pool(4);
}

}  // namespace
}  // namespace hearth
