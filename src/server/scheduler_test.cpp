// The prefill plan of the scheduler (plan_prefill): which waiting prompts a pass evaluates.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace hearth::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::vector<PrefillCandidate> prompts(std::initializer_list<size_t> lengths) {
  std::vector<PrefillCandidate> out;
  steady_clock::time_point t{};
  for (size_t n : lengths) out.push_back({n, t += milliseconds(1)});  // in arrival order
  return out;
}

constexpr int kBudget = 512;
constexpr int kChunk = 256;
constexpr int kRideAlong = 16;

TEST(PlanPrefill, EqualPromptsGoOneAtATimeInArrivalOrder) {
  auto waiting = prompts({70, 70, 70, 70});
  EXPECT_EQ(plan_prefill(waiting, kBudget, kChunk, kRideAlong), (std::vector<size_t>{70, 0, 0, 0}));
  std::swap(waiting[0].submitted, waiting[2].submitted);  // the third arrived first
  EXPECT_EQ(plan_prefill(waiting, kBudget, kChunk, kRideAlong), (std::vector<size_t>{0, 0, 70, 0}));
}

TEST(PlanPrefill, ShortestFirstAndTinyPromptsRideAlong) {
  EXPECT_EQ(plan_prefill(prompts({90, 12}), kBudget, kChunk, kRideAlong),
            (std::vector<size_t>{0, 12}));  // 12 + 90 is no ride-along
  EXPECT_EQ(plan_prefill(prompts({100, 6, 5}), kBudget, kChunk, kRideAlong),
            (std::vector<size_t>{0, 6, 5}));
  EXPECT_EQ(plan_prefill(prompts({9, 9}), kBudget, kChunk, kRideAlong),
            (std::vector<size_t>{9, 0}));  // 18 tokens would exceed the ride-along
}

TEST(PlanPrefill, LongPromptsGoInChunksWithinTheBudget) {
  EXPECT_EQ(plan_prefill(prompts({2000}), kBudget, kChunk, kRideAlong), (std::vector<size_t>{256}));
  EXPECT_EQ(plan_prefill(prompts({2000}), 100, kChunk, kRideAlong), (std::vector<size_t>{100}));
  EXPECT_EQ(plan_prefill(prompts({2000}), 0, kChunk, kRideAlong), (std::vector<size_t>{0}));
  // A short prompt arriving later overtakes the long one between its chunks.
  EXPECT_EQ(plan_prefill(prompts({1744, 80}), kBudget, kChunk, kRideAlong),
            (std::vector<size_t>{0, 80}));
  EXPECT_TRUE(plan_prefill({}, kBudget, kChunk, kRideAlong).empty());
}

}  // namespace
}  // namespace hearth::server
