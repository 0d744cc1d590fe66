// Speculative decoding: guess several next tokens cheaply, check them all with one forward
// pass of the model, keep the longest prefix the model agrees with.
//
// A Drafter proposes the tokens: LookupDrafter copies what followed the latest earlier
// occurrence of the context's last few tokens (prompt lookup: cheap, good when the output
// repeats its input), ModelDrafter runs a smaller model with the same vocabulary greedily.
// Both are deterministic, so the draft distribution q is a point mass on the drafted token.
// Verification draws the target's token from its own distribution p at each position and
// keeps the draft while they agree: drawing s ~ p and accepting when s equals the draft is
// the speculative-sampling rule for such a q (accept with probability min(1, p/q) = p(t),
// else draw from p with t removed and renormalised), so the output has exactly the target's
// distribution at any temperature, and greedy output is the plain greedy output.
//
// Ownership and threads: a Drafter is used by one generation at a time, from one thread.
// ModelDrafter owns its Session (and through it keeps the draft Model alive).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "hearth/engine.h"
#include "hearth/status.h"

namespace hearth {

enum class SpeculateMode { kOff, kLookup, kDraft };
std::string_view speculate_mode_name(SpeculateMode mode);  // "off", "lookup", "draft"
Result<SpeculateMode> parse_speculate_mode(std::string_view name);

struct SpeculativeParams {
  SpeculateMode mode = SpeculateMode::kOff;
  int32_t draft_max = 8;  // tokens drafted per verification at most
  // Prompt lookup matches the context's last n tokens, from ngram_max down to ngram_min.
  int32_t ngram_max = 3;
  int32_t ngram_min = 1;

  Status validate() const;  // an Error names the offending field
};

// Drafted and accepted tokens of one generation.
struct SpeculativeStats {
  int32_t drafted = 0;
  int32_t accepted = 0;
  double acceptance_rate() const {
    return drafted > 0 ? static_cast<double>(accepted) / drafted : 0.0;
  }
};

// How many tokens to draft next: grows while drafts are accepted whole, falls back to just
// past the accepted part after a rejection, so a drafter that guesses badly costs little.
class DraftLength {
 public:
  explicit DraftLength(int32_t max) : max_(max < 0 ? 0 : max), current_(max_) {}
  int32_t next() const { return current_; }
  void update(int32_t drafted, int32_t accepted);

 private:
  int32_t max_;
  int32_t current_;
};

class Drafter {
 public:
  virtual ~Drafter() = default;
  // Up to `max_tokens` tokens guessed to follow `context` (the whole sequence so far: prompt
  // and generated tokens). Fewer, or none, when the drafter has no guess.
  virtual Result<std::vector<int32_t>> draft(std::span<const int32_t> context,
                                             int32_t max_tokens) = 0;
};

// Prompt lookup: the tokens that followed the most recent earlier occurrence of the
// context's last n tokens, for the longest n in [ngram_min, ngram_max] that occurs.
std::vector<int32_t> lookup_draft(std::span<const int32_t> context, int32_t ngram_min,
                                  int32_t ngram_max, int32_t max_tokens);

class LookupDrafter final : public Drafter {
 public:
  explicit LookupDrafter(const SpeculativeParams& params)
      : ngram_min_(params.ngram_min), ngram_max_(params.ngram_max) {}
  Result<std::vector<int32_t>> draft(std::span<const int32_t> context,
                                     int32_t max_tokens) override {
    return lookup_draft(context, ngram_min_, ngram_max_, max_tokens);
  }

 private:
  int32_t ngram_min_;
  int32_t ngram_max_;
};

// An Error unless `draft` can draft for `target`: the same tokenizer vocabulary (count and
// every token's text), since drafted ids are fed to the target as they are.
Status check_draft_vocabulary(const Model& target, const Model& draft);

// A smaller model drafting greedily on its own session. The session keeps the previous
// context in its cache; each call rewinds to what the new context shares with it (drafts the
// target rejected fall away there) and evaluates only the rest.
class ModelDrafter final : public Drafter {
 public:
  // Checks the vocabularies, then allocates the draft session (options.n_ctx should be the
  // target's context, so every context the target holds fits).
  static Result<std::unique_ptr<ModelDrafter>> create(std::shared_ptr<const Model> draft,
                                                      const Model& target,
                                                      const SessionOptions& options);
  Result<std::vector<int32_t>> draft(std::span<const int32_t> context, int32_t max_tokens) override;
  // The draft session's KV cache, allocated at create (memory budgets count it).
  size_t kv_cache_bytes() const { return session_.kv_cache_bytes(); }

 private:
  ModelDrafter(Session session, int32_t target_vocab)
      : session_(std::move(session)), target_vocab_(target_vocab) {}
  Session session_;
  int32_t target_vocab_;
  std::vector<int32_t> cached_;  // ids whose keys/values are in session_'s cache
};

}  // namespace hearth
