#include "engine/sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace hearth {

Status SamplerParams::validate() const {
  auto bad = [](const char* name, const std::string& why) {
    return fail(std::string(name) + " " + why);
  };
  if (!std::isfinite(temperature) || temperature < 0.0f || temperature > 2.0f) {
    return bad("temperature", "must be between 0 and 2");
  }
  if (!std::isfinite(top_p) || top_p <= 0.0f || top_p > 1.0f) {
    return bad("top_p", "must be greater than 0 and at most 1");
  }
  if (!std::isfinite(min_p) || min_p < 0.0f || min_p > 1.0f) {
    return bad("min_p", "must be between 0 and 1");
  }
  if (!std::isfinite(repeat_penalty) || repeat_penalty <= 0.0f) {
    return bad("repeat_penalty", "must be positive");
  }
  if (!std::isfinite(frequency_penalty) || std::fabs(frequency_penalty) > 2.0f) {
    return bad("frequency_penalty", "must be between -2 and 2");
  }
  if (!std::isfinite(presence_penalty) || std::fabs(presence_penalty) > 2.0f) {
    return bad("presence_penalty", "must be between -2 and 2");
  }
  for (const auto& [id, bias] : logit_bias) {
    if (!std::isfinite(bias) || std::fabs(bias) > 100.0f) {
      return bad("logit_bias", "values must be between -100 and 100");
    }
    (void)id;
  }
  return ok();
}

Sampler::Sampler(SamplerParams params) : params_(std::move(params)), rng_(params_.seed) {}

void Sampler::reset() {
  history_.clear();
  rng_.seed(params_.seed);
}

void Sampler::accept(int32_t token) {
  history_.push_back(token);
  const size_t window = params_.penalty_last_n < 0 ? std::numeric_limits<size_t>::max()
                                                    : static_cast<size_t>(params_.penalty_last_n);
  while (history_.size() > window) history_.pop_front();
}

void Sampler::apply_penalties(std::vector<Candidate>& candidates) const {
  const bool any = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                   params_.presence_penalty != 0.0f;
  if (!any || history_.empty()) return;
  std::unordered_map<int32_t, int> counts;
  for (int32_t t : history_) ++counts[t];
  for (const auto& [id, count] : counts) {
    if (id < 0 || static_cast<size_t>(id) >= candidates.size()) continue;
    float& logit = candidates[id].logit;  // candidates are still indexed by id here
    // Dividing a positive logit and multiplying a negative one both make the token less
    // likely; a plain division would reward tokens with negative logits.
    if (params_.repeat_penalty != 1.0f) {
      logit = logit > 0 ? logit / params_.repeat_penalty : logit * params_.repeat_penalty;
    }
    logit -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

int32_t Sampler::sample(std::span<const float> logits) {
  const auto n_vocab = static_cast<int32_t>(logits.size());
  candidates_.resize(logits.size());
  for (int32_t i = 0; i < n_vocab; ++i) {
    // NaN logits (a broken model) must never win: treat them as impossible.
    candidates_[i] = {i, std::isnan(logits[i]) ? -std::numeric_limits<float>::infinity() : logits[i]};
  }
  for (const auto& [id, bias] : params_.logit_bias) {
    if (id >= 0 && id < n_vocab) candidates_[id].logit += bias;
  }
  apply_penalties(candidates_);

  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };

  if (params_.temperature <= 0.0f) {
    return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->id;
  }

  // top-k: keep the k best, sorted. Without top-k, sort everything (top-p needs the order).
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) keep = params_.top_k;
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<long>(keep),
                    candidates_.end(), by_logit);
  candidates_.resize(keep);

  // Temperature, then softmax (in double: the sums span many orders of magnitude).
  std::vector<double> probs(keep);
  const double max_logit = candidates_[0].logit / params_.temperature;
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp(candidates_[i].logit / params_.temperature - max_logit);
    sum += probs[i];
  }
  for (double& p : probs) p /= sum;

  // top-p: the smallest prefix whose mass reaches top_p (at least one token).
  if (params_.top_p < 1.0f) {
    double mass = 0;
    size_t n = 0;
    while (n < keep) {
      mass += probs[n++];
      if (mass >= params_.top_p) break;
    }
    keep = n;
  }
  // min-p: drop tokens below min_p times the best token's probability.
  if (params_.min_p > 0.0f) {
    const double floor = probs[0] * params_.min_p;
    size_t n = 1;
    while (n < keep && probs[n] >= floor) ++n;
    keep = n;
  }

  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += probs[i];
  // 53 random bits as a double in [0, 1): the same on every platform for a given seed.
  const double r = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += probs[i];
    if (r < acc) return candidates_[i].id;
  }
  return candidates_[keep - 1].id;
}

}  // namespace hearth
