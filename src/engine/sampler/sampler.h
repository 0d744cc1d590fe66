// Turning logits into the next token.
//
// The chain, applied in this order each step:
//   logit bias -> repetition / frequency / presence penalties (over the last
//   `penalty_last_n` accepted tokens) -> top-k -> temperature -> top-p -> min-p -> draw.
// Temperature <= 0 means greedy: the argmax after bias and penalties, no randomness.
// The draw uses a 64-bit Mersenne Twister seeded from `seed`, so a seed reproduces a
// generation exactly on the same model and build.
//
// A Sampler holds per-generation state (the token history and the random generator): use
// one per request, from one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "hearth/status.h"

namespace hearth {

struct SamplerParams {
  float temperature = 0.8f;
  int32_t top_k = 40;              // <= 0: off
  float top_p = 0.95f;             // >= 1: off
  float min_p = 0.05f;             // <= 0: off
  float repeat_penalty = 1.0f;     // 1: off; >1 discourages tokens seen recently
  float frequency_penalty = 0.0f;  // OpenAI semantics: minus count * penalty
  float presence_penalty = 0.0f;   // OpenAI semantics: minus penalty once if seen
  int32_t penalty_last_n = 64;     // history window for the three penalties; -1: all
  uint64_t seed = 0xC0FFEE;
  std::unordered_map<int32_t, float> logit_bias;  // added to the raw logits

  // Ranges a client may ask for; an Error names the offending parameter.
  Status validate() const;
};

class Sampler {
 public:
  explicit Sampler(SamplerParams params);

  // Picks the next token from one position's logits (n_vocab values).
  int32_t sample(std::span<const float> logits);
  // Records a token as part of the generation (penalties look at these). Prompt tokens can
  // be accepted too, so that penalties see the conversation.
  void accept(int32_t token);
  void reset();

  const SamplerParams& params() const { return params_; }
  // After sample(): the logits it drew from, with bias and penalties applied (before
  // temperature and the top-k/top-p/min-p cuts). Log-probabilities are reported from these.
  std::span<const float> adjusted_logits() const { return logits_; }

 private:
  void apply_penalties(std::vector<float>& logits) const;

  SamplerParams params_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;
  // Reused between steps to avoid reallocating vocabulary-sized buffers.
  std::vector<float> logits_;   // after bias and penalties
  std::vector<float> weights_;  // exp((logit - max) / temperature), indexed by token id
  std::vector<int32_t> ids_;    // the candidates still in the running
};

}  // namespace hearth
