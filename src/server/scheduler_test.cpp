// The scheduler: its prefill plan (plan_prefill: which waiting prompts a pass evaluates), and
// its per-request step (cancellation, finish rules, stop strings, the JSON constraint) driven
// one step at a time on the tiny stories260K model.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/fixtures.h"

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

// ---- The scheduler's step, driven without its engine thread (run_step) on stories260K ------

namespace hearth::server {
namespace {

using std::chrono::milliseconds;

std::shared_ptr<const Model> stories() {
  static const std::shared_ptr<const Model> model = [] {
    auto loaded = Model::load(testing::fixtures_dir() / "models" / "stories260K.gguf",
                              ModelOptions{.n_threads = 1});
    EXPECT_TRUE(loaded.has_value()) << (loaded ? "" : loaded.error().message);
    return loaded ? *loaded : nullptr;
  }();
  return model;
}

std::unique_ptr<Scheduler> manual_scheduler(int n_ctx, int n_slots = 1,
                                            Metrics* metrics = nullptr) {
  SchedulerOptions options;
  options.n_slots = n_slots;
  options.n_ctx = n_ctx;
  options.n_threads = 1;
  options.engine_thread = false;
  auto scheduler = Scheduler::create(stories(), options, metrics, "stories");
  EXPECT_TRUE(scheduler.has_value()) << (scheduler ? "" : scheduler.error().message);
  return scheduler ? std::move(*scheduler) : nullptr;
}

// A greedy job on `n` prompt tokens (valid ids of the 512-token vocabulary, BOS first).
GenerationJob greedy_job(size_t n, int32_t max_tokens) {
  GenerationJob job;
  job.prompt.push_back(1);
  for (size_t i = 1; i < n; ++i) job.prompt.push_back(static_cast<int32_t>(260 + (i * 37) % 250));
  job.options.max_tokens = max_tokens;
  job.options.sampling.temperature = 0;
  job.options.ignore_eos = true;
  return job;
}

GenerationJob greedy_text_job(const std::string& text, int32_t max_tokens) {
  GenerationJob job = greedy_job(0, max_tokens);
  job.prompt = stories()->tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/false);
  return job;
}

struct Finished {
  std::string text;
  std::vector<std::string> pieces;  // one per text event, in order
  StreamEvent end;
  bool ended = false;
};

// Steps the scheduler until `stream` has its final event.
Finished run_to_end(Scheduler& scheduler, RequestStream& stream) {
  Finished out;
  for (int step = 0; step < 10000 && !out.ended; ++step) {
    scheduler.run_step();
    while (auto event = stream.next(milliseconds(0))) {
      if (event->kind == StreamEvent::Kind::kText) {
        out.text += event->text;
        out.pieces.push_back(event->text);
      } else {
        out.end = std::move(*event);
        out.ended = true;
        break;
      }
    }
  }
  EXPECT_TRUE(out.ended) << "the request never finished";
  return out;
}

bool has_line(const Metrics& metrics, const std::string& line) {
  const std::string text = metrics.render();
  return text.find("\n" + line + "\n") != std::string::npos;
}

std::shared_ptr<RequestStream> submit(Scheduler& scheduler, GenerationJob job) {
  auto stream = scheduler.submit(std::move(job));
  EXPECT_TRUE(stream.has_value()) << (stream ? "" : stream.error().message);
  return stream ? *stream : nullptr;
}

TEST(AutoSlots, HalfOfWhatTheWeightsLeaveCappedAtSixteen) {
  constexpr uint64_t kMiB = 1 << 20;
  // No budget, or caches that take nothing: the cap.
  EXPECT_EQ(auto_slot_count(48 * kMiB, 500 * kMiB, 0), kMaxAutoSlots);
  EXPECT_EQ(auto_slot_count(0, 500 * kMiB, 1000 * kMiB), kMaxAutoSlots);
  // 8 GiB budget, 5 GiB of weights: 1.5 GiB for caches of 576 MiB each (an 8B model at 4k).
  EXPECT_EQ(auto_slot_count(576 * kMiB, 5120 * kMiB, 8192 * kMiB), 2);
  // A 0.5B model in 12 GiB: capped.
  EXPECT_EQ(auto_slot_count(48 * kMiB, 500 * kMiB, 12288 * kMiB), kMaxAutoSlots);
  // Weights at or over the budget still get one slot (the registry decides whether it loads).
  EXPECT_EQ(auto_slot_count(48 * kMiB, 900 * kMiB, 800 * kMiB), 1);
  EXPECT_EQ(auto_slot_count(48 * kMiB, 800 * kMiB, 800 * kMiB + 95 * kMiB), 1);
  EXPECT_EQ(auto_slot_count(48 * kMiB, 800 * kMiB, 800 * kMiB + 96 * kMiB), 1);
  EXPECT_EQ(auto_slot_count(48 * kMiB, 800 * kMiB, 800 * kMiB + 192 * kMiB), 2);
}

TEST(AutoSlots, SchedulerSizesItsSlotsFromTheBudget) {
  SchedulerOptions options;
  options.n_slots = 0;
  options.n_ctx = 256;
  options.n_threads = 1;
  options.engine_thread = false;
  auto unlimited = Scheduler::create(stories(), options, nullptr, "stories");
  ASSERT_TRUE(unlimited.has_value()) << unlimited.error().message;
  EXPECT_EQ((*unlimited)->n_slots(), kMaxAutoSlots);

  auto one = Session::create(stories(), SessionOptions{.n_ctx = 256});
  ASSERT_TRUE(one.has_value());
  const uint64_t per_slot = one->kv_cache_bytes();
  ASSERT_GT(per_slot, 0u);
  options.memory_budget = stories()->file().bytes().size() + 2 * 3 * per_slot;
  auto three = Scheduler::create(stories(), options, nullptr, "stories");
  ASSERT_TRUE(three.has_value()) << three.error().message;
  EXPECT_EQ((*three)->n_slots(), 3);
}

TEST(SchedulerStep, DroppingTheStreamCancelsAndFreesTheSlot) {
  ASSERT_NE(stories(), nullptr);
  Metrics metrics;
  auto scheduler = manual_scheduler(64, /*n_slots=*/1, &metrics);
  ASSERT_NE(scheduler, nullptr);
  auto first = submit(*scheduler, greedy_job(8, /*max_tokens=*/-1));
  ASSERT_TRUE(scheduler->run_step());  // admitted, prefilled, first token sampled
  auto second = submit(*scheduler, greedy_job(5, /*max_tokens=*/3));
  ASSERT_TRUE(scheduler->run_step());
  EXPECT_TRUE(has_line(metrics, "hearth_slots_busy{model=\"stories\"} 1"));
  EXPECT_TRUE(has_line(metrics, "hearth_queue_depth{model=\"stories\"} 1"));  // 1 slot, taken
  EXPECT_EQ(scheduler->load(), 2);

  first.reset();  // the client went away without a word
  ASSERT_TRUE(scheduler->run_step());
  EXPECT_EQ(metrics.requests_cancelled.load(), 1u);

  const Finished done = run_to_end(*scheduler, *second);
  EXPECT_EQ(done.end.kind, StreamEvent::Kind::kDone);
  EXPECT_EQ(done.end.completion_tokens, 3);
  EXPECT_EQ(scheduler->load(), 0);
  EXPECT_TRUE(has_line(metrics, "hearth_slots_busy{model=\"stories\"} 0"));
  EXPECT_TRUE(has_line(metrics, "hearth_queue_depth{model=\"stories\"} 0"));
}

TEST(SchedulerStep, CancelWhileQueuedNeverTakesASlot) {
  ASSERT_NE(stories(), nullptr);
  Metrics metrics;
  auto scheduler = manual_scheduler(64, /*n_slots=*/1, &metrics);
  ASSERT_NE(scheduler, nullptr);
  auto running = submit(*scheduler, greedy_job(8, /*max_tokens=*/2));
  auto queued = submit(*scheduler, greedy_job(8, /*max_tokens=*/2));
  queued->cancel();
  const Finished done = run_to_end(*scheduler, *running);
  EXPECT_EQ(done.end.kind, StreamEvent::Kind::kDone);
  for (int i = 0; i < 3; ++i) scheduler->run_step();
  EXPECT_EQ(scheduler->load(), 0);
  EXPECT_EQ(metrics.prompt_tokens_total.load(), 8u);  // only the first was ever admitted
  EXPECT_FALSE(queued->next(milliseconds(0)).has_value());
}

// The queue bound counts requests waiting beyond the slots: with free slots, a burst that
// arrives before the engine's next step must not be refused for lack of queue room.
TEST(SchedulerStep, ABurstFillsTheFreeSlotsAndTheQueueBeforeRefusing) {
  ASSERT_NE(stories(), nullptr);
  SchedulerOptions options;
  options.n_slots = 2;
  options.n_ctx = 64;
  options.n_threads = 1;
  options.max_queue = 1;
  options.engine_thread = false;
  auto created = Scheduler::create(stories(), options, nullptr, "stories");
  ASSERT_TRUE(created.has_value());
  Scheduler& scheduler = **created;
  std::vector<std::shared_ptr<RequestStream>> accepted;
  for (int i = 0; i < 3; ++i) accepted.push_back(submit(scheduler, greedy_job(6, 2)));
  auto refused = scheduler.submit(greedy_job(6, 2));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().status, 503) << refused.error().message;
  for (auto& stream : accepted) {
    ASSERT_NE(stream, nullptr);
    EXPECT_EQ(run_to_end(scheduler, *stream).end.kind, StreamEvent::Kind::kDone);
  }
}

TEST(SchedulerStep, EndOfContextFinishesWithLength) {
  ASSERT_NE(stories(), nullptr);
  auto scheduler = manual_scheduler(16);
  ASSERT_NE(scheduler, nullptr);
  ASSERT_EQ(scheduler->n_ctx(), 16);
  // Unlimited and too large max_tokens alike stop where prompt + completion = n_ctx.
  for (int32_t max_tokens : {-1, 100}) {
    auto stream = submit(*scheduler, greedy_job(10, max_tokens));
    const Finished done = run_to_end(*scheduler, *stream);
    EXPECT_EQ(done.end.kind, StreamEvent::Kind::kDone);
    EXPECT_EQ(done.end.finish, FinishReason::kLength) << max_tokens;
    EXPECT_EQ(done.end.prompt_tokens, 10);
    EXPECT_EQ(done.end.completion_tokens, completion_room(10, 16)) << max_tokens;
    EXPECT_EQ(done.end.completion_tokens, 6);
  }
  // A max_tokens within the room finishes there, also with "length".
  auto stream = submit(*scheduler, greedy_job(10, 4));
  const Finished done = run_to_end(*scheduler, *stream);
  EXPECT_EQ(done.end.finish, FinishReason::kLength);
  EXPECT_EQ(done.end.completion_tokens, 4);
}

TEST(SchedulerStep, PromptAtTheContextBoundary) {
  ASSERT_NE(stories(), nullptr);
  auto scheduler = manual_scheduler(16);
  ASSERT_NE(scheduler, nullptr);
  auto one_left = submit(*scheduler, greedy_job(15, /*max_tokens=*/-1));
  ASSERT_NE(one_left, nullptr);
  const Finished done = run_to_end(*scheduler, *one_left);
  EXPECT_EQ(done.end.kind, StreamEvent::Kind::kDone);
  EXPECT_EQ(done.end.finish, FinishReason::kLength);
  EXPECT_EQ(done.end.completion_tokens, 1);

  auto full = scheduler->submit(greedy_job(16, /*max_tokens=*/-1));
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().status, 400);
  EXPECT_EQ(full.error().code, "context_length_exceeded");
}

TEST(SchedulerStep, StopStringSplitAcrossTokensEndsTheOutputBeforeIt) {
  ASSERT_NE(stories(), nullptr);
  std::string full;
  std::vector<std::string> pieces;
  {
    auto scheduler = manual_scheduler(128);
    ASSERT_NE(scheduler, nullptr);
    auto stream = submit(*scheduler, greedy_text_job("Once upon a time", 40));
    const Finished done = run_to_end(*scheduler, *stream);
    full = done.text;
    pieces = done.pieces;
  }
  // A stop string made of the end of one piece and the start of the next, first seen there.
  std::string stop;
  size_t stop_at = std::string::npos;
  size_t offset = 0;
  for (size_t i = 0; i + 1 < pieces.size() && stop.empty(); ++i) {
    offset += pieces[i].size();
    if (pieces[i].size() < 2 || pieces[i + 1].size() < 2) continue;
    const std::string candidate =
        pieces[i].substr(pieces[i].size() - 2) + pieces[i + 1].substr(0, 2);
    if (full.find(candidate) == offset - 2) {
      stop = candidate;
      stop_at = offset - 2;
    }
  }
  ASSERT_FALSE(stop.empty()) << "no split stop string in: " << full;

  auto scheduler = manual_scheduler(128);
  ASSERT_NE(scheduler, nullptr);
  GenerationJob job = greedy_text_job("Once upon a time", 40);
  job.options.stop = {stop};
  auto stream = submit(*scheduler, std::move(job));
  const Finished done = run_to_end(*scheduler, *stream);
  EXPECT_EQ(done.end.finish, FinishReason::kStop);
  EXPECT_EQ(done.text, full.substr(0, stop_at)) << "stop string \"" << stop << "\"";
}

TEST(SchedulerStep, JsonConstrainedOutputParsesEvenWhenCutShort) {
  ASSERT_NE(stories(), nullptr);
  auto scheduler = manual_scheduler(256);
  ASSERT_NE(scheduler, nullptr);
  for (int32_t max_tokens : {200, 6}) {
    GenerationJob job = greedy_text_job("Once upon a time", max_tokens);
    job.json_object = true;
    job.options.ignore_eos = false;
    auto stream = submit(*scheduler, std::move(job));
    const Finished done = run_to_end(*scheduler, *stream);
    ASSERT_EQ(done.end.kind, StreamEvent::Kind::kDone);
    const auto parsed = nlohmann::json::parse(done.text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "max_tokens " << max_tokens << ": " << done.text;
    EXPECT_TRUE(parsed.is_object()) << done.text;
    if (max_tokens == 6) {
      EXPECT_EQ(done.end.finish, FinishReason::kLength);
    }
  }
}

TEST(SchedulerStep, ShutdownGivesEveryRequestAFinalEvent) {
  ASSERT_NE(stories(), nullptr);
  auto scheduler = manual_scheduler(64);
  ASSERT_NE(scheduler, nullptr);
  auto running = submit(*scheduler, greedy_job(8, -1));
  auto queued = submit(*scheduler, greedy_job(8, -1));
  ASSERT_TRUE(scheduler->run_step());
  scheduler->shutdown(/*drain=*/false);
  EXPECT_FALSE(scheduler->run_step());
  for (auto* stream : {running.get(), queued.get()}) {
    std::optional<StreamEvent> last;
    while (auto event = stream->next(milliseconds(0))) last = std::move(event);
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->kind, StreamEvent::Kind::kError);
    EXPECT_EQ(last->error.status, 503);
  }
}

}  // namespace
}  // namespace hearth::server

// ---- Log-probabilities, only when a request asks ---------------------------------------------

namespace hearth::server {
namespace {

TEST(SchedulerStep, LogprobsComeWithTheTokensOnlyWhenAsked) {
  ASSERT_NE(stories(), nullptr);
  auto scheduler = manual_scheduler(128);
  ASSERT_NE(scheduler, nullptr);
  for (int top : {-1, 3}) {
    GenerationJob job = greedy_text_job("Once upon a time", 6);
    job.top_logprobs = top;
    auto stream = submit(*scheduler, std::move(job));
    std::string text, token_texts;
    std::vector<TokenLogprob> logprobs;
    bool ended = false;
    for (int step = 0; step < 1000 && !ended; ++step) {
      scheduler->run_step();
      while (auto event = stream->next(std::chrono::milliseconds(0))) {
        if (event->kind != StreamEvent::Kind::kText) {
          ended = true;
          break;
        }
        text += event->text;
        for (auto& t : event->logprobs) logprobs.push_back(std::move(t));
      }
    }
    ASSERT_TRUE(ended);
    if (top < 0) {
      EXPECT_TRUE(logprobs.empty());
      continue;
    }
    ASSERT_EQ(logprobs.size(), 6u);
    for (const auto& t : logprobs) {
      token_texts += t.token;
      EXPECT_LE(t.logprob, 0.0f);
      ASSERT_EQ(t.top.size(), 3u);
      EXPECT_GE(t.top[0].second, t.top[1].second);
      EXPECT_GE(t.top[1].second, t.top[2].second);
      // Greedy: the chosen token is the most likely one.
      EXPECT_EQ(t.top[0].first, t.token);
      EXPECT_FLOAT_EQ(t.top[0].second, t.logprob);
    }
    EXPECT_EQ(token_texts, text);
  }
}

// The timings each reply carries: counts agree with usage, the phases add up to no more than
// the wall time, and time in the queue is counted as such (not as prompt time).
TEST(SchedulerStep, TimingsAddUpAndMatchTheUsage) {
  ASSERT_NE(stories(), nullptr);
  auto scheduler = manual_scheduler(64, /*n_slots=*/1);
  ASSERT_NE(scheduler, nullptr);
  const auto start = steady_clock::now();
  auto first = submit(*scheduler, greedy_job(8, /*max_tokens=*/4));
  auto second = submit(*scheduler, greedy_job(8, /*max_tokens=*/3));  // waits for the slot
  const Finished a = run_to_end(*scheduler, *first);
  std::this_thread::sleep_for(milliseconds(20));  // the second is still queued meanwhile
  const Finished b = run_to_end(*scheduler, *second);
  const double wall_ms =
      std::chrono::duration<double, std::milli>(steady_clock::now() - start).count();

  for (const Finished* f : {&a, &b}) {
    const GenerationTimings& t = f->end.timings;
    ASSERT_TRUE(t.present);
    EXPECT_EQ(t.predicted_n, f->end.completion_tokens);
    EXPECT_EQ(t.prompt_n + t.cache_n, f->end.prompt_tokens);
    EXPECT_GT(t.prompt_ms, 0);
    EXPECT_GT(t.predicted_ms, 0);
    EXPECT_GT(t.predicted_per_second(), 0);
    // The first token comes after the queue and the prompt, and before the end.
    EXPECT_GE(t.ttft_ms + 1e-6, t.queue_ms + t.prompt_ms);
    EXPECT_LE(t.ttft_ms, t.queue_ms + t.prompt_ms + t.predicted_ms + 1e-6);
    EXPECT_LE(t.queue_ms + t.prompt_ms + t.predicted_ms, wall_ms);
  }
  EXPECT_EQ(a.end.timings.predicted_n, 4);
  EXPECT_EQ(a.end.timings.cache_n, 0);
  EXPECT_GE(b.end.timings.queue_ms, 20.0);  // it waited for the first one and the sleep
  // The same prompt again reuses the cached prefix: fewer prompt tokens evaluated.
  EXPECT_GT(b.end.timings.cache_n, 0);
  EXPECT_LT(b.end.timings.prompt_n, 8);
}

}  // namespace
}  // namespace hearth::server
