// Continuous batching for one loaded model.
//
// Requests are queued (bounded) and admitted into `n_slots` slots, each a Session with its
// own KV cache. One engine thread runs the loop: admit queued requests into free slots
// (choosing the slot whose cache shares the longest prefix with the prompt, so a chat's next
// turn only evaluates the new tokens), evaluate one step for every busy slot together (one
// token for each slot generating, and a chunk of the shortest waiting prompt), then sample,
// detokenize and publish text to each request's stream. New requests join between steps.
//
// A request ends with "length" where its prompt and completion fill the slot's context (the
// rule in engine/runtime/generator.h that Generation applies too), and is dropped at the next
// step once its consumer cancels or lets go of its RequestStream (request_stream.h).
//
// Thread-safety: submit(), load(), shutdown() and the RequestStream methods may be called from
// any thread; everything else runs on the engine thread, or, without one
// (SchedulerOptions::engine_thread false), in the caller of run_step().
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime/generator.h"
#include "engine/runtime/speculative.h"
#include "hearth/engine.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/request_stream.h"

namespace hearth {
class JsonConstraint;  // engine/sampler/json_constraint.h
class CallConstraint;  // engine/sampler/call_constraint.h
}  // namespace hearth

namespace hearth::server {

struct SchedulerOptions {
  // Slots (concurrent requests); 0: auto_slot_count() from the memory budget below.
  int n_slots = 4;
  // With n_slots 0: the bytes the model may hold in all, weights and every slot's KV cache
  // (the server's --memory-budget); 0: no limit, so the slot cap decides.
  uint64_t memory_budget = 0;
  int n_ctx = 0;  // per slot; 0 = the model's default
  int n_threads = 0;
  int max_queue = 64;          // waiting requests beyond the busy slots; more get 503
  int prefill_chunk = 256;     // prompt tokens per slot per step, so decoding slots keep moving
  int max_batch_tokens = 512;  // tokens of all slots in one forward pass
  std::chrono::seconds request_timeout{600};
  // false: no engine thread; the owner drives the scheduler with run_step() (tests), so every
  // step is deterministic.
  bool engine_thread = true;
  // Not the scheduler's own: how the model's chat replies are reported. true: <think> text
  // goes to reasoning_content; false (`--reasoning-format none`): it stays in the content.
  bool split_reasoning = true;
  // Speculative decoding (engine/runtime/speculative.h, docs/performance.md): the mode a
  // request gets unless its body says otherwise, and the draft length. kDraft needs
  // draft_model (same vocabulary as the model; each slot gets a draft session on it).
  SpeculativeParams speculative;
  std::shared_ptr<const Model> draft_model;
  // Requests speculate only while at most this many slots are generating: batched streams
  // already share every weight read, so drafts would mostly add arithmetic there.
  int speculative_max_streams = 2;
};

// `--parallel auto`: the most slots, up to kMaxAutoSlots, whose KV caches of `kv_bytes_per_slot`
// (a draft model's cache included) each fit in half of what the budget leaves beside the weights
// (the other half stays free for another model, so loading a second one does not evict the first),
// and at least one. Sixteen is where a CPU stops gaining aggregate throughput from batching more
// streams (docs/api.md).
inline constexpr int kMaxAutoSlots = 16;
int auto_slot_count(uint64_t kv_bytes_per_slot, uint64_t weight_bytes, uint64_t memory_budget);

// One prompt waiting for prefill, as plan_prefill sees it.
struct PrefillCandidate {
  size_t tokens_left = 0;
  std::chrono::steady_clock::time_point submitted{};
};

// How many prompt tokens each candidate evaluates in the next pass (same order as
// `waiting`; 0 for those that wait). The prompt with the fewest tokens left goes first (then
// the earliest), up to `prefill_chunk` tokens and the pass's `budget`; others join only
// while the pass's prompt tokens stay within `ride_along` (a pass that short is bound by
// reading the weights, not by arithmetic). Four 70-token prompts arriving together thus get
// their first tokens after 1, 2, 3 and 4 prompts' time, where sharing passes gave all four
// theirs after all four, and a later, shorter prompt overtakes a long one between its chunks.
std::vector<size_t> plan_prefill(const std::vector<PrefillCandidate>& waiting, int budget,
                                 int prefill_chunk, int ride_along);

class Scheduler {
 public:
  // Allocates every slot's session (an impossible context or a cache that cannot be allocated
  // is an Error) and starts the engine thread. `metrics` may be null, else it must outlive the
  // scheduler; its per-model gauges carry the label model="<model_id>".
  static Result<std::unique_ptr<Scheduler>> create(std::shared_ptr<const Model> model,
                                                   SchedulerOptions options, Metrics* metrics,
                                                   std::string model_id);
  ~Scheduler();  // cancels what is running and joins the engine thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  const Model& model() const { return *model_; }
  int n_ctx() const { return n_ctx_; }
  int n_slots() const { return static_cast<int>(slots_.size()); }
  // The KV caches of the slots' draft sessions (0 without a draft model); the draft model's
  // weights are shared by every scheduler and counted once by the server.
  uint64_t draft_kv_bytes() const { return draft_kv_bytes_; }
  // What requests get unless they say otherwise (ServedModel fills GenerateOptions with it).
  const SpeculativeParams& speculative() const { return options_.speculative; }
  // Tokens per forward pass, which sizes the slots' sliding-window caches.
  int max_batch_tokens() const { return std::max(1, options_.max_batch_tokens); }

  // Queues a request, or a 503 when the queue is full / the scheduler is stopping, or a 400
  // when the prompt cannot fit the context.
  ApiResult<std::shared_ptr<RequestStream>> submit(GenerationJob job);

  // Stops admitting; in-flight requests finish (drain) or are cancelled.
  void shutdown(bool drain);
  // Requests queued or running.
  int load() const;

  // Without an engine thread (options.engine_thread false): does what one turn of the engine
  // loop does (admit queued requests, evaluate one step, sample and publish). Returns false
  // once the scheduler has stopped; then every remaining request has had its final event.
  // Must not be called from two threads at once.
  bool run_step();

 private:
  Scheduler(std::shared_ptr<const Model> model, SchedulerOptions options, Metrics* metrics);

  // Prompt tokens that may join a pass that already prefills another prompt.
  static constexpr int kRideAlongTokens = 16;
  struct Slot;
  struct Pending {
    GenerationJob job;
    std::shared_ptr<StreamChannel> stream;  // the producer end of the request's stream
    std::chrono::steady_clock::time_point submitted;
  };

  void engine_loop();
  static GenerationTimings slot_timings(const Slot& slot, int32_t n_generated,
                                        std::chrono::steady_clock::time_point now);
  // Whether the loop must end now: stopping, and not draining or nothing left to drain.
  bool must_stop() const;  // mutex_ held
  // Ends every request still queued or running with a "shutting down" error.
  void cancel_remaining();
  void admit_pending();
  void step();
  // Prompt tokens each slot (by index) evaluates in the next pass; 0 for the others.
  std::vector<size_t> prefill_chunks() const;
  // Evaluates every busy slot's part of this step in one forward pass; returns the slots
  // that were evaluated (a slot whose decode failed has been finished with an error).
  std::vector<Slot*> decode_busy_slots();
  void after_decode(Slot& slot, size_t n_tokens, bool was_prefilling);
  // Drafts tokens for the generating slots that may speculate this step (slot.drafts).
  void draft_for_slots();
  // Takes one sampled token: the stepper, the constraints and the context rule. `sequence` is
  // the sequence's length with the token. Appends the text to show; true when it ended.
  bool take_token(Slot& slot, int32_t id, std::optional<TokenLogprob> logprob, int64_t sequence,
                  std::string& text, FinishReason& finish);
  // Verifies a slot's drafts against the rows its decode produced, taking the tokens the model
  // agrees with, and rewinds the cache past those it does not.
  bool verify_drafts(Slot& slot, std::string& text, FinishReason& finish);
  void finish_slot(Slot& slot, StreamEvent done);

  std::shared_ptr<const Model> model_;
  SchedulerOptions options_;
  std::unique_ptr<ThreadPool> pool_;  // shared by every slot's session: one pass at a time
  Metrics* metrics_;
  std::shared_ptr<ModelGauges> gauges_;  // null without metrics
  int n_ctx_ = 0;
  uint64_t draft_kv_bytes_ = 0;
  std::vector<std::unique_ptr<Slot>> slots_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool drain_ = true;
  std::atomic<int> busy_slots_{0};
  bool stopped_ = false;  // run_step() has ended the last requests
  std::thread engine_;
};

}  // namespace hearth::server
