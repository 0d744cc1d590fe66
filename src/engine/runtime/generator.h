// Text generation on a Session: the loop every front end (CLI, chat, server) shares.
//
// A Generation keeps the token ids that are in its session's KV cache, so a new prompt that
// starts like the previous one (the next turn of a chat, a retried request) only evaluates
// the tokens that differ. It samples, detokenizes into valid UTF-8 pieces, applies stop
// strings and end-of-generation tokens, and hands each piece to a callback that can cancel.
//
// Not thread-safe: one Generation per session, driven from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/speculative.h"
#include "engine/sampler/sampler.h"
#include "hearth/engine.h"
#include "hearth/status.h"

namespace hearth {

struct GenerateOptions {
  int32_t max_tokens = 256;  // < 0: until the context is full
  SamplerParams sampling;
  std::vector<std::string> stop;  // stop strings; never part of the output
  bool ignore_eos = false;
  // Show control tokens as their text (e.g. <|python_tag|>, [TOOL_CALLS]): the server's tool
  // call parser needs the markers some families write as special tokens.
  bool render_special_tokens = false;
  // Speculative decoding (engine/runtime/speculative.h): the output is the same as without
  // it (token for token when greedy); only the speed differs. kDraft needs a drafter given
  // to Generation::set_draft_model.
  SpeculativeParams speculative;
};

enum class FinishReason { kStop, kLength, kCancelled };
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled"

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids, end-of-generation token excluded
  std::string text;             // their text, stop string and what follows removed
  FinishReason finish = FinishReason::kStop;
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // prompt tokens reused from the cache, not evaluated
  SpeculativeStats speculative;      // zeros when not speculating
};

// How many leading tokens of `cached` can stay in a cache that must come to hold `prompt`:
// the common prefix, less one when it covers the whole prompt, because the prompt's last
// token must be evaluated again to produce the logits that sampling needs.
size_t reusable_prefix(std::span<const int32_t> cached, std::span<const int32_t> prompt);

// The end-of-context rule, the one every front end (Generation, the server's scheduler)
// applies: a sequence holds at most n_ctx tokens, prompt and completion together. The last
// sampled token counts although its keys/values are never stored, so that what a client is
// told ("prompt + completion <= context length") is what happens. Hence a prompt of n_ctx - 1
// tokens can get one completion token and a prompt of n_ctx tokens none, and a generation
// finishes with "length" as soon as its sequence holds n_ctx tokens, whatever max_tokens says.
inline bool context_is_full(int64_t sequence_tokens, int64_t n_ctx) {
  return sequence_tokens >= n_ctx;
}
// Completion tokens the rule above leaves to a prompt of `prompt_tokens` (0 when none).
inline int32_t completion_room(int32_t prompt_tokens, int32_t n_ctx) {
  return prompt_tokens >= n_ctx ? 0 : n_ctx - prompt_tokens;
}

// Receives each piece of text as soon as it is final; returning false cancels.
using TextCallback = std::function<bool(std::string_view piece)>;

class Generation {
 public:
  explicit Generation(Session& session) : session_(session) {}

  // Evaluates `prompt` (reusing the cached common prefix) and generates a continuation.
  Result<GenerateResult> run(std::span<const int32_t> prompt, const GenerateOptions& options,
                             const TextCallback& on_text = {});

  // Brings the cache to exactly `prompt`, evaluating only what is not cached yet; afterwards
  // the session's last logits are those after the prompt's final token. Returns how many
  // prompt tokens were reused.
  Result<int32_t> prefill(std::span<const int32_t> prompt);

  const std::vector<int32_t>& cached_tokens() const { return cached_; }
  Session& session() { return session_; }
  // The drafter that SpeculateMode::kDraft uses (borrowed: it must outlive the runs that use
  // it); null: none, and such a run is an Error.
  void set_draft_model(Drafter* drafter) { draft_model_ = drafter; }

 private:
  Session& session_;
  Drafter* draft_model_ = nullptr;
  std::vector<int32_t> cached_;  // ids whose keys/values are in the session's cache, in order
};

}  // namespace hearth
