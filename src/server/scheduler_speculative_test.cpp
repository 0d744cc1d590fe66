// The scheduler's speculative decoding, driven one step at a time (run_step) on stories260K:
// the same text as without it, draft numbers in the timings, the many-streams rule, and a
// draft model of another vocabulary refused at creation.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/scheduler.h"
#include "support/fixtures.h"

namespace hearth::server {
namespace {

using std::chrono::milliseconds;

std::shared_ptr<const Model> load(const char* name) {
  auto loaded =
      Model::load(testing::fixtures_dir() / "models" / name, ModelOptions{.n_threads = 1});
  EXPECT_TRUE(loaded.has_value()) << (loaded ? "" : loaded.error().message);
  return loaded ? *loaded : nullptr;
}

constexpr const char* kStory =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big red ball. Once upon a time, there was a little girl named "
    "Lily. She loved to play";

GenerationJob story_job(const Model& model, int32_t max_tokens, SpeculateMode mode,
                        const char* text = kStory) {
  GenerationJob job;
  job.prompt = model.tokenizer().encode(text, true, false);
  job.options.max_tokens = max_tokens;
  job.options.sampling.temperature = 0;
  job.options.ignore_eos = true;
  job.options.speculative.mode = mode;
  return job;
}

struct Ended {
  std::string text;
  StreamEvent end;
  bool ended = false;
};

// Steps until every stream has its final event.
std::vector<Ended> run_all(Scheduler& scheduler,
                           std::vector<std::shared_ptr<RequestStream>> streams) {
  std::vector<Ended> out(streams.size());
  for (int step = 0; step < 10000; ++step) {
    bool all = true;
    for (const Ended& e : out) all = all && e.ended;
    if (all) break;
    scheduler.run_step();
    for (size_t i = 0; i < streams.size(); ++i) {
      while (!out[i].ended) {
        auto event = streams[i]->next(milliseconds(0));
        if (!event) break;
        if (event->kind == StreamEvent::Kind::kText) {
          out[i].text += event->text;
        } else {
          out[i].end = std::move(*event);
          out[i].ended = true;
        }
      }
    }
  }
  for (const Ended& e : out) EXPECT_TRUE(e.ended) << "a request never finished";
  return out;
}

std::unique_ptr<Scheduler> scheduler_for(std::shared_ptr<const Model> model, int n_slots,
                                         int max_streams,
                                         std::shared_ptr<const Model> draft = nullptr) {
  SchedulerOptions options;
  options.n_slots = n_slots;
  options.n_ctx = 256;
  options.n_threads = 1;
  options.engine_thread = false;
  options.speculative_max_streams = max_streams;
  options.draft_model = std::move(draft);
  auto scheduler = Scheduler::create(std::move(model), options, nullptr, "stories");
  EXPECT_TRUE(scheduler.has_value()) << (scheduler ? "" : scheduler.error().message);
  return scheduler ? std::move(*scheduler) : nullptr;
}

TEST(SchedulerSpeculative, LookupGivesThePlainTextAndReportsItsDrafts) {
  auto model = load("stories260K.gguf");
  ASSERT_TRUE(model);
  auto scheduler = scheduler_for(model, 1, 2);
  ASSERT_TRUE(scheduler);
  const auto plain =
      run_all(*scheduler, {*scheduler->submit(story_job(*model, 60, SpeculateMode::kOff))});
  const auto spec =
      run_all(*scheduler, {*scheduler->submit(story_job(*model, 60, SpeculateMode::kLookup))});
  EXPECT_EQ(spec[0].text, plain[0].text);
  EXPECT_EQ(spec[0].end.completion_tokens, 60);
  EXPECT_FALSE(plain[0].end.timings.speculative);
  const GenerationTimings& t = spec[0].end.timings;
  EXPECT_TRUE(t.speculative);
  EXPECT_GT(t.draft_n, 0);
  EXPECT_GT(t.draft_n_accepted, 0);
  EXPECT_LE(t.draft_n_accepted, t.draft_n);
}

TEST(SchedulerSpeculative, NoDraftsWhileMoreStreamsThanTheLimitGenerate) {
  auto model = load("stories260K.gguf");
  ASSERT_TRUE(model);
  auto scheduler = scheduler_for(model, 2, /*max_streams=*/1);
  ASSERT_TRUE(scheduler);
  // Prompts short enough to be evaluated in one pass together, so that both generate side by
  // side from the first step to the last.
  constexpr const char* kShort = "Once upon a time";
  const auto plain =
      run_all(*scheduler, {*scheduler->submit(story_job(*model, 40, SpeculateMode::kOff, kShort))});
  const auto both = run_all(
      *scheduler, {*scheduler->submit(story_job(*model, 40, SpeculateMode::kLookup, kShort)),
                   *scheduler->submit(story_job(*model, 40, SpeculateMode::kLookup, kShort))});
  for (const Ended& e : both) {
    EXPECT_EQ(e.text, plain[0].text);
    EXPECT_TRUE(e.end.timings.speculative);
    EXPECT_EQ(e.end.timings.draft_n, 0);
  }
  // Alone, the same request drafts.
  const auto alone = run_all(
      *scheduler, {*scheduler->submit(story_job(*model, 40, SpeculateMode::kLookup, kShort))});
  EXPECT_EQ(alone[0].text, plain[0].text);
  EXPECT_GT(alone[0].end.timings.draft_n, 0);
}

TEST(SchedulerSpeculative, ADraftModelDraftsForEachSlot) {
  auto model = load("stories260K.gguf");
  ASSERT_TRUE(model);
  auto scheduler = scheduler_for(model, 2, 2, /*draft=*/model);
  ASSERT_TRUE(scheduler);
  const auto plain =
      run_all(*scheduler, {*scheduler->submit(story_job(*model, 50, SpeculateMode::kOff))});
  const auto spec =
      run_all(*scheduler, {*scheduler->submit(story_job(*model, 50, SpeculateMode::kDraft)),
                           *scheduler->submit(story_job(*model, 33, SpeculateMode::kDraft))});
  EXPECT_EQ(spec[0].text, plain[0].text);
  EXPECT_EQ(spec[0].end.completion_tokens, 50);
  EXPECT_EQ(spec[1].end.completion_tokens, 33);
  EXPECT_EQ(plain[0].text.rfind(spec[1].text, 0), 0u) << "a prefix of the longer reply";
  // The model drafting for itself: confirmed nearly always.
  for (const Ended& e : spec) {
    EXPECT_GT(e.end.timings.draft_n, 10);
    EXPECT_GE(e.end.timings.draft_n_accepted * 10, e.end.timings.draft_n * 9);
  }
}

TEST(SchedulerSpeculative, ADraftModelOfAnotherVocabularyIsRefused) {
  SchedulerOptions options;
  options.n_slots = 1;
  options.n_ctx = 64;
  options.engine_thread = false;
  options.speculative.mode = SpeculateMode::kDraft;
  options.draft_model = load("stories260K.gguf");
  auto scheduler = Scheduler::create(load("tiny-llama-spm-q4_0.gguf"), options, nullptr, "x");
  ASSERT_FALSE(scheduler.has_value());
  EXPECT_NE(scheduler.error().message.find("different vocabularies"), std::string::npos)
      << scheduler.error().message;
  options.draft_model = nullptr;
  EXPECT_FALSE(Scheduler::create(load("stories260K.gguf"), options, nullptr, "x").has_value());
}

// The draft sessions' caches count against the memory budget: `--parallel auto` sizes slots
// with them, and the scheduler reports them for the registry's accounting.
TEST(SchedulerSpeculative, DraftCachesCountInTheSlotBudget) {
  auto model = load("stories260K.gguf");
  ASSERT_TRUE(model);
  auto plain = scheduler_for(model, 2, 2);
  auto drafted = scheduler_for(model, 2, 2, model);
  ASSERT_TRUE(plain && drafted);
  EXPECT_EQ(plain->draft_kv_bytes(), 0u);
  // Two slots, each with a draft session on the same model at the same context.
  const uint64_t per_slot = drafted->draft_kv_bytes() / 2;
  EXPECT_GT(per_slot, 0u);

  // A budget that fits 8 slots' main caches (in its free half) beside the weights.
  const uint64_t weights = model->file().bytes().size();
  SchedulerOptions options;
  options.n_slots = 0;
  options.n_ctx = 256;
  options.engine_thread = false;
  options.memory_budget = weights + 2 * 8 * per_slot;
  auto sized_plain = Scheduler::create(model, options, nullptr, "stories");
  options.draft_model = model;
  auto sized_drafted = Scheduler::create(model, options, nullptr, "stories");
  ASSERT_TRUE(sized_plain.has_value() && sized_drafted.has_value());
  EXPECT_EQ((*sized_plain)->n_slots(), 8);
  EXPECT_EQ((*sized_drafted)->n_slots(), 4) << "a draft cache as large as the main one halves them";
}

}  // namespace
}  // namespace hearth::server
