// The transport-neutral event stream of one generation request, and the job that starts it.
//
// A request has two ends. The consumer (an HTTP route) holds the RequestStream and reads
// events from it; the producer (the scheduler, or any other backend) holds the shared
// StreamChannel and publishes into it. The channel outlives whichever end goes first, so the
// producer never publishes into freed memory, and it carries the consumer's "stop" signal:
// cancel() or destroying the RequestStream marks the channel cancelled, and the producer
// checks cancelled() between steps instead of guessing from reference counts.
//
// Thread-safety: every method of StreamChannel and RequestStream may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/runtime/generator.h"
#include "server/api_error.h"
#include "server/tool_calls.h"

namespace hearth {
class JsonSchema;           // engine/sampler/json_schema.h
struct CallConstraintSpec;  // engine/sampler/call_constraint.h
}  // namespace hearth

namespace hearth::server {

// One generated token's log-probability and, when asked, the most likely alternatives.
struct TokenLogprob {
  std::string token;  // the token's text (special tokens as their text)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // most likely first
};

// Where one generation's time went, as measured by whoever produced it (the scheduler for
// local models). Milliseconds on a monotonic clock. Names follow llama-server's `timings`
// (prompt_*, predicted_*) so clients written for it read ours; queue_ms and ttft_ms are ours.
//   queue_ms    submitted -> admitted into a slot
//   prompt_ms   admitted  -> the last prompt token evaluated (prompt_n tokens, cache_n reused)
//   predicted_ms           -> the last token sampled (predicted_n tokens, the first included)
//   ttft_ms     submitted -> the first token sampled (queue, prompt and one sampling)
//   draft_n, draft_n_accepted: speculative decoding's drafted tokens and those the model
//               confirmed (speculative false: the request did not speculate)
struct GenerationTimings {
  bool present = false;  // false: the producer measured nothing (then no `timings` is sent)
  double queue_ms = 0;
  int32_t prompt_n = 0;
  int32_t cache_n = 0;
  double prompt_ms = 0;
  int32_t predicted_n = 0;
  double predicted_ms = 0;
  double ttft_ms = 0;
  bool speculative = false;
  int32_t draft_n = 0;
  int32_t draft_n_accepted = 0;
  double prompt_per_second() const { return prompt_ms > 0 ? prompt_n * 1000.0 / prompt_ms : 0; }
  double predicted_per_second() const {
    return predicted_ms > 0 ? predicted_n * 1000.0 / predicted_ms : 0;
  }
};

// What a request streams back, in order: zero or more kText, then exactly one kDone or kError.
struct StreamEvent {
  enum class Kind { kText, kDone, kError } kind = Kind::kText;
  std::string text;
  // kText, when the request asked for logprobs: the tokens generated since the last event
  // (their text may arrive in a later event while a stop string is being matched).
  std::vector<TokenLogprob> logprobs;
  // kDone:
  FinishReason finish = FinishReason::kStop;
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;
  int32_t completion_tokens = 0;
  GenerationTimings timings;
  // kError:
  ApiError error;
};

struct GenerationJob {
  std::vector<int32_t> prompt;
  GenerateOptions options;
  bool json_object = false;                       // constrain the output to one JSON object
  std::shared_ptr<const JsonSchema> json_schema;  // ...that also follows this schema
  int top_logprobs = -1;  // < 0: no logprobs; else each token's and this many alternatives
  // Tool calls the model opens (tool_choice auto) are constrained by this (null: not at all).
  std::shared_ptr<const CallConstraintSpec> tool_calls;
};

// The queue between producer and consumer, plus the consumer's cancellation flag. Shared
// (shared_ptr) by both ends.
class StreamChannel {
 public:
  // Producer side: appends an event and wakes the consumer.
  void publish(StreamEvent event);
  // True once the consumer cancelled or dropped its RequestStream: nobody reads any more.
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // Consumer side: blocks until the next event or the timeout; nullopt on timeout.
  std::optional<StreamEvent> next(std::chrono::milliseconds timeout);
  // Consumer side, for a consumer that must not block (an event-driven transport): true when
  // an event is waiting; otherwise keeps `wake` (replacing an earlier one) and calls it once,
  // outside the channel's lock, at the next publish.
  bool poll_ready(std::function<void()> wake);
  void cancel() { cancelled_.store(true, std::memory_order_release); }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<StreamEvent> events_;
  std::function<void()> wake_;
  std::atomic<bool> cancelled_{false};
};

// How a chat reply is to be read, as the backend that rendered the prompt knows it.
struct ChatReplySyntax {
  ToolCallFormat tool_format = ToolCallFormat::kGeneric;
  bool forced_call = false;         // decoding was constrained to one generic JSON call
  bool thinking = false;            // the template uses <think> ... </think>
  bool starts_in_thinking = false;  // the rendered prompt ends inside an open <think>
};

// The consumer side of one request. Dropping it (or cancel()) stops the generation and frees
// its slot at the producer's next step.
class RequestStream {
 public:
  // A stream with a fresh channel; the producer keeps channel().
  RequestStream() : channel_(std::make_shared<StreamChannel>()) {}
  ~RequestStream() { channel_->cancel(); }  // the consumer is gone
  RequestStream(const RequestStream&) = delete;
  RequestStream& operator=(const RequestStream&) = delete;

  // Blocks until the next event or the timeout; nullopt on timeout.
  std::optional<StreamEvent> next(std::chrono::milliseconds timeout) {
    return channel_->next(timeout);
  }
  bool poll_ready(std::function<void()> wake) { return channel_->poll_ready(std::move(wake)); }
  void cancel() { channel_->cancel(); }

  // The producer's end; hold it, not the RequestStream, so that dropping the stream is seen.
  const std::shared_ptr<StreamChannel>& channel() const { return channel_; }

  // Set by the backend before it hands the stream out; read by the route afterwards.
  ChatReplySyntax reply_syntax;

 private:
  std::shared_ptr<StreamChannel> channel_;
};

}  // namespace hearth::server
