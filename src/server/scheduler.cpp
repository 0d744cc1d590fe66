#include "server/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "engine/gguf/gguf.h"
#include "engine/platform/thread_pool.h"
#include "engine/runtime/token_stepper.h"
#include "engine/sampler/call_constraint.h"
#include "engine/sampler/json_constraint.h"
#include "engine/sampler/sampler.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth::server {

using Clock = std::chrono::steady_clock;

namespace {

// The sampled token's log-probability under the distribution it was drawn from, and the `top`
// most likely tokens. Only computed for requests that ask (a pass over the vocabulary).
TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top,
                           const Tokenizer& tokenizer) {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float l : logits) max_logit = std::max(max_logit, l);
  double sum = 0;
  for (float l : logits) {
    if (std::isfinite(l)) sum += std::exp(static_cast<double>(l - max_logit));
  }
  const float log_total = max_logit + static_cast<float>(std::log(sum));
  auto logprob_of = [&](int32_t id) {
    const float l = logits[static_cast<size_t>(id)];
    // A banned token (a constraint masked it) has probability 0; JSON has no -inf.
    return std::isfinite(l) ? l - log_total : -9999.0f;
  };
  TokenLogprob out;
  out.token = tokenizer.token_to_piece(token, /*render_special=*/true);
  out.logprob = logprob_of(token);
  if (top > 0) {
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    const auto k = std::min(ids.size(), static_cast<size_t>(top));
    std::partial_sort(
        ids.begin(), ids.begin() + static_cast<long>(k), ids.end(), [&](int32_t a, int32_t b) {
          return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
                 (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
        });
    for (size_t i = 0; i < k; ++i) {
      out.top.emplace_back(tokenizer.token_to_piece(ids[i], /*render_special=*/true),
                           logprob_of(ids[i]));
    }
  }
  return out;
}

}  // namespace

// ---- Slot ----------------------------------------------------------------------------------

struct Scheduler::Slot {
  explicit Slot(Session s) : session(std::move(s)) {}

  bool busy() const { return stream != nullptr; }
  bool prefilling() const { return prompt_done < job.prompt.size(); }

  Session session;
  std::vector<int32_t> cached;  // token ids whose keys/values are in the session's cache
  Clock::time_point last_used{};

  // The request being served; stream is null when the slot is free.
  std::shared_ptr<StreamChannel> stream;
  GenerationJob job;
  std::optional<TokenStepper> stepper;
  std::unique_ptr<JsonConstraint> json;
  std::unique_ptr<CallConstraint> calls;  // tool calls the model opens (tool_choice auto)
  size_t prompt_done = 0;                 // prompt tokens in the cache
  int32_t cached_prompt = 0;
  int32_t last_token = -1;  // sampled, not yet in the cache
  // Speculative decoding: whether this request may, what was drafted after last_token for
  // this step (evaluated with it, not yet confirmed), and the request's counts.
  std::unique_ptr<ModelDrafter> draft_model;  // null without SchedulerOptions::draft_model
  bool may_speculate = false;
  std::optional<DraftLength> draft_length;
  std::vector<int32_t> drafts;
  std::vector<int32_t> step_tokens;  // last_token and the drafts, as decoded
  SpeculativeStats speculative;
  std::vector<TokenLogprob> pending_logprobs;  // tokens whose text is not published yet
  // submitted: queued; admitted: given this slot; prefilled: the last prompt token evaluated;
  // first_token: the first token sampled. They make the reply's timings.
  Clock::time_point submitted{}, admitted{}, prefilled{}, first_token{};
};

namespace {
double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::max(0.0, std::chrono::duration<double, std::milli>(to - from).count());
}
}  // namespace

GenerationTimings Scheduler::slot_timings(const Slot& slot, int32_t n_generated,
                                          Clock::time_point now) {
  GenerationTimings t;
  t.present = true;
  t.queue_ms = ms_between(slot.submitted, slot.admitted);
  t.cache_n = slot.cached_prompt;
  t.prompt_n = static_cast<int32_t>(slot.job.prompt.size()) - slot.cached_prompt;
  t.prompt_ms = ms_between(slot.admitted, slot.prefilled);
  t.predicted_n = n_generated;
  // Generation starts when the prompt is in the cache: the first token's sampling counts
  // here, so predicted_per_second is tokens over the time spent producing them.
  t.predicted_ms = n_generated > 0 ? ms_between(slot.prefilled, now) : 0;
  t.ttft_ms = n_generated > 0 ? ms_between(slot.submitted, slot.first_token) : 0;
  t.speculative = slot.may_speculate;
  t.draft_n = slot.speculative.drafted;
  t.draft_n_accepted = slot.speculative.accepted;
  return t;
}

int auto_slot_count(uint64_t kv_bytes_per_slot, uint64_t weight_bytes, uint64_t memory_budget) {
  if (kv_bytes_per_slot == 0 || memory_budget == 0) return kMaxAutoSlots;
  const uint64_t left = memory_budget > weight_bytes ? memory_budget - weight_bytes : 0;
  const uint64_t fits = left / 2 / kv_bytes_per_slot;
  return static_cast<int>(std::clamp<uint64_t>(fits, 1, kMaxAutoSlots));
}

// ---- Scheduler -----------------------------------------------------------------------------

Scheduler::Scheduler(std::shared_ptr<const Model> model, SchedulerOptions options, Metrics* metrics)
    : model_(std::move(model)), options_(options), metrics_(metrics) {}

Result<std::unique_ptr<Scheduler>> Scheduler::create(std::shared_ptr<const Model> model,
                                                     SchedulerOptions options, Metrics* metrics,
                                                     std::string model_id) {
  std::unique_ptr<Scheduler> scheduler(new Scheduler(std::move(model), options, metrics));
  if (metrics) scheduler->gauges_ = metrics->add_model(std::move(model_id));
  Scheduler& s = *scheduler;
  const int n_threads =
      s.options_.n_threads > 0 ? s.options_.n_threads : s.model_->options().n_threads;
  s.pool_ = std::make_unique<ThreadPool>(n_threads);
  SessionOptions session_options;
  session_options.n_ctx = s.options_.n_ctx;
  session_options.n_batch = std::max(1, s.options_.max_batch_tokens);
  session_options.pool = s.pool_.get();
  if (s.options_.speculative.mode != SpeculateMode::kOff) {
    if (auto st = s.options_.speculative.validate(); !st) return std::unexpected(st.error());
  }
  if (s.options_.speculative.mode == SpeculateMode::kDraft && !s.options_.draft_model) {
    return fail("speculate: draft mode needs a draft model");
  }
  int n_slots = std::max(1, s.options_.n_slots);
  for (int i = 0; i < n_slots; ++i) {
    auto session = Session::create(s.model_, session_options);
    if (!session) return std::unexpected(session.error());
    auto slot = std::make_unique<Slot>(std::move(*session));
    if (s.options_.draft_model) {
      SessionOptions draft_options = session_options;
      draft_options.n_ctx = slot->session.n_ctx();
      auto drafter = ModelDrafter::create(s.options_.draft_model, *s.model_, draft_options);
      if (!drafter) return std::unexpected(drafter.error());
      slot->draft_model = std::move(*drafter);
      s.draft_kv_bytes_ += slot->draft_model->kv_cache_bytes();
    }
    if (i == 0 && s.options_.n_slots <= 0) {
      // The first slot tells the size of every slot's caches at the context it resolved.
      const uint64_t draft_bytes = slot->draft_model ? slot->draft_model->kv_cache_bytes() : 0;
      n_slots = auto_slot_count(slot->session.kv_cache_bytes() + draft_bytes,
                                s.model_->file().bytes().size(), s.options_.memory_budget);
    }
    s.slots_.push_back(std::move(slot));
  }
  s.n_ctx_ = s.slots_.front()->session.n_ctx();
  if (s.gauges_) s.gauges_->slots_total = n_slots;
  if (s.options_.engine_thread) s.engine_ = std::thread([&s] { s.engine_loop(); });
  return scheduler;
}

Scheduler::~Scheduler() {
  shutdown(/*drain=*/false);
  if (engine_.joinable()) {
    engine_.join();
  } else if (!stopped_) {
    cancel_remaining();  // driven by run_step(), or never started
  }
}

void Scheduler::shutdown(bool drain) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drain_ = drain;
  }
  wake_.notify_all();
}

int Scheduler::load() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(queue_.size()) + busy_slots_.load();
}

ApiResult<std::shared_ptr<RequestStream>> Scheduler::submit(GenerationJob job) {
  const int32_t prompt_tokens = static_cast<int32_t>(job.prompt.size());
  if (prompt_tokens == 0) return api_fail(invalid_request("the prompt is empty", "messages"));
  if (completion_room(prompt_tokens, n_ctx_) == 0) {
    return api_fail(context_length_exceeded(prompt_tokens, 0, n_ctx_));
  }
  auto stream = std::make_shared<RequestStream>();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return api_fail(server_busy(5));
    // Requests queued for a slot that is free now are about to run, not waiting: a burst
    // that arrives before the engine thread admits anyone still fills every free slot.
    const int free_slots = std::max(0, n_slots() - busy_slots_.load());
    if (static_cast<int>(queue_.size()) >= options_.max_queue + free_slots) {
      return api_fail(server_busy(2));
    }
    queue_.push_back({std::move(job), stream->channel(), Clock::now()});
    if (gauges_) gauges_->queue_depth = static_cast<int64_t>(queue_.size());
  }
  wake_.notify_one();
  return stream;
}

bool Scheduler::must_stop() const {
  return stopping_ && (!drain_ || (queue_.empty() && busy_slots_.load() == 0));
}

void Scheduler::engine_loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || busy_slots_.load() > 0; });
      if (must_stop()) break;
    }
    admit_pending();
    step();
  }
  cancel_remaining();
}

bool Scheduler::run_step() {
  {
    std::lock_guard lock(mutex_);
    if (must_stop()) {
      stopped_ = true;
    }
  }
  if (stopped_) {
    cancel_remaining();
    return false;
  }
  admit_pending();
  step();
  return true;
}

void Scheduler::cancel_remaining() {
  // A final event for everyone, so no client waits forever.
  StreamEvent shutting_down{.kind = StreamEvent::Kind::kError, .error = server_busy(5)};
  shutting_down.error.message = "The server is shutting down.";
  for (auto& slot : slots_) {
    if (slot->busy()) finish_slot(*slot, shutting_down);
  }
  std::lock_guard lock(mutex_);
  for (auto& pending : queue_) pending.stream->publish(shutting_down);
  queue_.clear();
  if (gauges_) gauges_->queue_depth = 0;
}

void Scheduler::admit_pending() {
  for (;;) {
    Pending pending;
    Slot* best = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) return;
      if (stopping_ && !drain_) return;
      size_t best_prefix = 0;
      for (auto& slot : slots_) {
        if (slot->busy()) continue;
        const size_t prefix = reusable_prefix(slot->cached, queue_.front().job.prompt);
        // Longest reusable prefix first; among equals, the slot unused for longest.
        if (!best || prefix > best_prefix ||
            (prefix == best_prefix && slot->last_used < best->last_used)) {
          best = slot.get();
          best_prefix = prefix;
        }
      }
      if (!best) return;
      pending = std::move(queue_.front());
      queue_.pop_front();
      if (gauges_) gauges_->queue_depth = static_cast<int64_t>(queue_.size());
    }
    if (pending.stream->cancelled()) continue;  // the client left while queued

    Slot& slot = *best;
    slot.session.rewind(static_cast<int32_t>(reusable_prefix(slot.cached, pending.job.prompt)));
    // Sliding-window caches may keep less than asked (Session::rewind).
    const auto keep = static_cast<size_t>(slot.session.n_past());
    slot.cached.resize(keep);
    slot.job = std::move(pending.job);
    slot.stream = std::move(pending.stream);
    slot.submitted = pending.submitted;
    slot.admitted = Clock::now();
    slot.prefilled = slot.admitted;  // moved on by after_decode while the prompt is evaluated
    slot.prompt_done = keep;
    slot.cached_prompt = static_cast<int32_t>(keep);
    slot.last_token = -1;
    slot.stepper.emplace(model_->tokenizer(), slot.job.options, slot.job.prompt);
    slot.json =
        slot.job.json_object ? std::make_unique<JsonConstraint>(slot.job.json_schema) : nullptr;
    slot.calls = slot.job.tool_calls && !slot.json
                     ? std::make_unique<CallConstraint>(slot.job.tool_calls)
                     : nullptr;
    // Drafts are verified by the sampler alone: a constraint would have to check each of
    // them too, so constrained requests do not speculate.
    const SpeculativeParams& spec = slot.job.options.speculative;
    slot.may_speculate = spec.mode != SpeculateMode::kOff && !slot.json && !slot.calls &&
                         (spec.mode != SpeculateMode::kDraft || slot.draft_model);
    slot.draft_length.emplace(spec.draft_max);
    slot.drafts.clear();
    slot.speculative = {};
    ++busy_slots_;
    if (gauges_) gauges_->slots_busy = busy_slots_.load();
    if (metrics_) {
      metrics_->prompt_tokens_total += slot.job.prompt.size();
      metrics_->prompt_tokens_cached_total += keep;
    }
  }
}

void Scheduler::finish_slot(Slot& slot, StreamEvent done) {
  const int32_t n_generated = slot.stepper->n_generated();
  if (done.kind == StreamEvent::Kind::kDone) {
    done.prompt_tokens = static_cast<int32_t>(slot.job.prompt.size());
    done.cached_prompt_tokens = slot.cached_prompt;
    done.completion_tokens = n_generated;
    done.timings = slot_timings(slot, n_generated, Clock::now());
  }
  if (metrics_) {
    if (done.kind == StreamEvent::Kind::kError) ++metrics_->requests_failed;
    if (done.finish == FinishReason::kCancelled) ++metrics_->requests_cancelled;
    metrics_->generated_tokens_total += n_generated;
    if (n_generated > 1) {
      const double seconds = std::chrono::duration<double>(Clock::now() - slot.first_token).count();
      if (seconds > 0) metrics_->tokens_per_second.observe((n_generated - 1) / seconds);
    }
  }
  slot.stream->publish(std::move(done));
  slot.pending_logprobs.clear();
  slot.stream.reset();
  slot.stepper.reset();
  slot.drafts.clear();
  slot.json.reset();
  slot.calls.reset();
  slot.last_used = Clock::now();
  --busy_slots_;
  if (gauges_) gauges_->slots_busy = busy_slots_.load();
}

std::vector<size_t> plan_prefill(const std::vector<PrefillCandidate>& waiting, int budget,
                                 int prefill_chunk, int ride_along) {
  std::vector<size_t> order(waiting.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const PrefillCandidate& x = waiting[a];
    const PrefillCandidate& y = waiting[b];
    return x.tokens_left != y.tokens_left ? x.tokens_left < y.tokens_left
                                          : x.submitted < y.submitted;
  });
  std::vector<size_t> chunks(waiting.size(), 0);
  int64_t in_pass = 0;
  for (size_t i : order) {
    const int room = std::min(std::max(1, prefill_chunk), budget);
    if (room <= 0) break;
    const size_t left = waiting[i].tokens_left;
    if (in_pass > 0 && in_pass + static_cast<int64_t>(left) > ride_along) break;
    chunks[i] = std::min(left, static_cast<size_t>(room));
    budget -= static_cast<int>(chunks[i]);
    in_pass += static_cast<int64_t>(chunks[i]);
  }
  return chunks;
}

std::vector<size_t> Scheduler::prefill_chunks() const {
  int budget = std::max(1, options_.max_batch_tokens);
  std::vector<size_t> slot_of;  // candidate -> slot index
  std::vector<PrefillCandidate> waiting;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = *slots_[i];
    if (!slot.busy()) continue;
    if (slot.prefilling()) {
      slot_of.push_back(i);
      waiting.push_back({slot.job.prompt.size() - slot.prompt_done, slot.submitted});
    } else {
      budget -= 1 + static_cast<int>(slot.drafts.size());  // its next token and its drafts
    }
  }
  const std::vector<size_t> planned =
      plan_prefill(waiting, budget, options_.prefill_chunk, kRideAlongTokens);
  std::vector<size_t> chunks(slots_.size(), 0);
  for (size_t c = 0; c < planned.size(); ++c) chunks[slot_of[c]] = planned[c];
  return chunks;
}

std::vector<Scheduler::Slot*> Scheduler::decode_busy_slots() {
  // Generating slots take one token each; prompts prefill as prefill_chunks() says, in
  // chunks, so a long prompt never stalls the others for more than a chunk.
  std::vector<Slot*> batch;
  std::vector<DecodeRequest> requests;
  std::vector<bool> was_prefilling;
  draft_for_slots();
  const std::vector<size_t> chunks = prefill_chunks();
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = *slots_[i];
    if (!slot.busy()) continue;
    std::span<const int32_t> tokens;
    if (slot.prefilling()) {
      if (chunks[i] == 0) continue;  // not this step
      tokens = std::span<const int32_t>(slot.job.prompt).subspan(slot.prompt_done, chunks[i]);
    } else {
      slot.step_tokens.assign(1, slot.last_token);
      slot.step_tokens.insert(slot.step_tokens.end(), slot.drafts.begin(), slot.drafts.end());
      tokens = slot.step_tokens;
    }
    batch.push_back(&slot);
    // Verifying drafts needs the logits after each of them.
    requests.push_back({&slot.session, tokens, !slot.prefilling() && !slot.drafts.empty()});
    was_prefilling.push_back(slot.prefilling());
  }
  if (batch.empty()) return batch;

  if (auto st = Session::decode_batch(requests); st) {
    for (size_t i = 0; i < batch.size(); ++i) {
      after_decode(*batch[i], requests[i].tokens.size(), was_prefilling[i]);
    }
    return batch;
  }
  // Some request is at fault (decode_batch checks everything before running): decode one
  // by one so that only that request fails.
  for (size_t i = 0; i < batch.size(); ++i) {
    Slot& slot = *batch[i];
    if (auto st = slot.session.decode(requests[i].tokens, requests[i].all_logits); !st) {
      slot.session.rewind(0);
      slot.cached.clear();
      finish_slot(slot,
                  {.kind = StreamEvent::Kind::kError, .error = internal_error(st.error().message)});
      continue;
    }
    after_decode(slot, requests[i].tokens.size(), was_prefilling[i]);
  }
  return batch;
}

void Scheduler::after_decode(Slot& slot, size_t n_tokens, bool was_prefilling) {
  if (was_prefilling) {
    const auto first = slot.job.prompt.begin() + static_cast<long>(slot.prompt_done);
    slot.cached.insert(slot.cached.end(), first, first + static_cast<long>(n_tokens));
    slot.prompt_done += n_tokens;
    slot.prefilled = Clock::now();
  } else {
    slot.cached.insert(slot.cached.end(), slot.step_tokens.begin(), slot.step_tokens.end());
  }
}

void Scheduler::draft_for_slots() {
  int generating = 0;
  for (const auto& slot : slots_) {
    if (slot->busy() && !slot->prefilling()) ++generating;
  }
  // Every generating slot's next token comes first in the pass's token budget.
  int room = std::max(1, options_.max_batch_tokens) - generating;
  const bool speculate = generating <= options_.speculative_max_streams;
  std::vector<int32_t> context;
  for (auto& slot_ptr : slots_) {
    Slot& slot = *slot_ptr;
    slot.drafts.clear();
    if (!speculate || room <= 0 || !slot.busy() || slot.prefilling() || !slot.may_speculate)
      continue;
    // The sequence holds the cache and last_token; the drafts and the token after them must
    // fit the context and max_tokens, or they would be evaluated for nothing.
    const auto sequence = static_cast<int64_t>(slot.cached.size()) + 1;
    int64_t budget = std::min<int64_t>(slot.draft_length->next(), room);
    budget = std::min<int64_t>(budget, n_ctx_ - sequence);
    const int32_t max_tokens = slot.job.options.max_tokens;
    if (max_tokens >= 0)
      budget = std::min<int64_t>(budget, max_tokens - slot.stepper->n_generated() - 1);
    if (budget <= 0) continue;
    context.assign(slot.cached.begin(), slot.cached.end());
    context.push_back(slot.last_token);
    const SpeculativeParams& spec = slot.job.options.speculative;
    if (spec.mode == SpeculateMode::kDraft) {
      // A draft model that fails (it cannot, short of a bug) only costs this step's drafts.
      auto drafted = slot.draft_model->draft(context, static_cast<int32_t>(budget));
      if (drafted) slot.drafts = std::move(*drafted);
    } else {
      slot.drafts =
          lookup_draft(context, spec.ngram_min, spec.ngram_max, static_cast<int32_t>(budget));
    }
    if (static_cast<int64_t>(slot.drafts.size()) > budget) slot.drafts.resize(budget);
    room -= static_cast<int>(slot.drafts.size());
  }
}

bool Scheduler::take_token(Slot& slot, int32_t id, std::optional<TokenLogprob> logprob,
                           int64_t sequence, std::string& text, FinishReason& finish) {
  if (slot.stepper->n_generated() == 0) {
    slot.first_token = Clock::now();
    if (metrics_) {
      metrics_->time_to_first_token.observe(
          std::chrono::duration<double>(slot.first_token - slot.submitted).count());
    }
  }
  TokenStepper::Step step = slot.stepper->accept(id);
  slot.last_token = id;
  if (step.generated && logprob) slot.pending_logprobs.push_back(std::move(*logprob));
  if (!step.done &&
      ((slot.json && slot.json->complete()) || (slot.calls && slot.calls->finished()))) {
    // The object is closed, or the last call parallel_tool_calls allows is.
    step.text += slot.stepper->flush();
    step.done = true;
  } else if (!step.done && context_is_full(sequence, n_ctx_)) {
    // The sequence (the cache and this token) fills the context.
    step.text += slot.stepper->flush();
    step.done = true;
    step.finish = FinishReason::kLength;
  }
  // A generation cut short must still close its JSON so that the client can parse it. (A
  // tool call cut short is not closed: its arguments would be made up; the reply parser
  // returns its text as content instead.)
  if (step.done && step.finish == FinishReason::kLength && slot.json)
    step.text += slot.json->closing_suffix();
  text += step.text;
  finish = step.finish;
  return step.done;
}

bool Scheduler::verify_drafts(Slot& slot, std::string& text, FinishReason& finish) {
  const Tokenizer& tokenizer = model_->tokenizer();
  Sampler& sampler = slot.stepper->sampler();
  const std::vector<int32_t>& drafts = slot.drafts;
  // The cache holds the sequence before last_token, last_token and every draft.
  const size_t base = slot.cached.size() - drafts.size();
  size_t confirmed = 0;
  bool done = false;
  // Row r holds the logits after last_token and drafts[0..r): the target's choice for the
  // position drafts[r] guessed. Drawing it and comparing is speculative sampling for a
  // drafter that is a point mass (engine/runtime/speculative.h).
  for (size_t row = 0;; ++row) {
    const int32_t id = sampler.sample(slot.session.logits(static_cast<int>(row)));
    std::optional<TokenLogprob> logprob;
    if (slot.job.top_logprobs >= 0 && id >= 0) {
      logprob = token_logprob(sampler.adjusted_logits(), id, slot.job.top_logprobs, tokenizer);
    }
    const bool agrees = row < drafts.size() && drafts[row] == id;
    if (agrees) ++confirmed;
    done = take_token(slot, id, std::move(logprob), static_cast<int64_t>(base + row) + 1, text,
                      finish);
    if (done || !agrees) break;
  }
  slot.speculative.drafted += static_cast<int32_t>(drafts.size());
  slot.speculative.accepted += static_cast<int32_t>(confirmed);
  slot.draft_length->update(static_cast<int32_t>(drafts.size()), static_cast<int32_t>(confirmed));
  // Keep the confirmed drafts; the pass wrote them all within one batch, which a
  // sliding-window cache always keeps, so the rewind never loses more (Session::rewind).
  slot.cached.resize(base + confirmed);
  slot.session.rewind(static_cast<int32_t>(base + confirmed));
  slot.drafts.clear();
  return done;
}

void Scheduler::step() {
  const Tokenizer& tokenizer = model_->tokenizer();
  const auto now = Clock::now();

  // Drop cancelled and timed-out requests first: their slots are free for this very step.
  for (auto& slot_ptr : slots_) {
    Slot& slot = *slot_ptr;
    if (!slot.busy()) continue;
    if (slot.stream->cancelled()) {
      finish_slot(slot, {.kind = StreamEvent::Kind::kDone, .finish = FinishReason::kCancelled});
    } else if (now - slot.submitted > options_.request_timeout) {
      StreamEvent timeout{.kind = StreamEvent::Kind::kError,
                          .error = {.status = 504,
                                    .message = "The request timed out.",
                                    .type = "server_error",
                                    .code = "timeout"}};
      finish_slot(slot, timeout);
    }
  }

  std::vector<Slot*> sampling;
  for (Slot* evaluated : decode_busy_slots()) {
    // Not those that finished with an error or still have prompt to evaluate.
    if (evaluated->busy() && !evaluated->prefilling()) sampling.push_back(evaluated);
  }
  // Sampling reads a whole vocabulary of logits per slot; the slots are independent (each has
  // its own sampler, constraint and logits), so they are sampled on the pool, which is idle
  // between forward passes.
  std::vector<int32_t> sampled(sampling.size());
  std::vector<std::optional<TokenLogprob>> logprobs(sampling.size());
  parallel_for(sampling.size() > 1 ? pool_.get() : nullptr, static_cast<int64_t>(sampling.size()),
               1, [&](int64_t begin, int64_t end) {
                 for (int64_t i = begin; i < end; ++i) {
                   Slot& slot = *sampling[i];
                   if (!slot.drafts.empty()) continue;  // verified below, row by row
                   std::span<const float> logits = slot.session.logits();
                   Sampler& sampler = slot.stepper->sampler();
                   sampled[i] = slot.json    ? slot.json->sample(sampler, logits, tokenizer)
                                : slot.calls ? slot.calls->sample(sampler, logits, tokenizer)
                                             : sampler.sample(logits);
                   if (slot.job.top_logprobs >= 0 && sampled[i] >= 0) {
                     logprobs[i] = token_logprob(sampler.adjusted_logits(), sampled[i],
                                                 slot.job.top_logprobs, tokenizer);
                   }
                 }
               });

  for (size_t i = 0; i < sampling.size(); ++i) {
    Slot& slot = *sampling[i];
    std::string text;
    FinishReason finish = FinishReason::kStop;
    const bool done =
        slot.drafts.empty()
            ? take_token(slot, sampled[i], std::move(logprobs[i]),
                         static_cast<int64_t>(slot.session.n_past()) + 1, text, finish)
            : verify_drafts(slot, text, finish);
    if (!text.empty()) {
      slot.stream->publish({.kind = StreamEvent::Kind::kText,
                            .text = std::move(text),
                            .logprobs = std::exchange(slot.pending_logprobs, {})});
    }
    if (done) finish_slot(slot, {.kind = StreamEvent::Kind::kDone, .finish = finish});
  }
}

}  // namespace hearth::server
