#include "engine/sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/kernels/vector_ops.h"

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

void Sampler::apply_penalties(std::vector<float>& logits) const {
  const bool any = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                   params_.presence_penalty != 0.0f;
  if (!any || history_.empty()) return;
  std::unordered_map<int32_t, int> counts;
  for (int32_t t : history_) ++counts[t];
  for (const auto& [id, count] : counts) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& logit = logits[id];
    // Dividing a positive logit and multiplying a negative one both make the token less
    // likely; a plain division would reward tokens with negative logits.
    if (params_.repeat_penalty != 1.0f) {
      logit = logit > 0 ? logit / params_.repeat_penalty : logit * params_.repeat_penalty;
    }
    logit -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

namespace {

// Higher logit first; equal logits by lower id, so every step is deterministic.
struct ByLogit {
  const std::vector<float>* logits;
  bool operator()(int32_t a, int32_t b) const {
    const float la = (*logits)[a], lb = (*logits)[b];
    return la > lb || (la == lb && a < b);
  }
};

}  // namespace

int32_t Sampler::sample(std::span<const float> logits) {
  const auto n_vocab = static_cast<int32_t>(logits.size());
  logits_.resize(logits.size());
  // NaN logits (a broken model) must never win: they become impossible.
  copy_finite(logits.data(), logits_.data(), n_vocab);
  for (const auto& [id, bias] : params_.logit_bias) {
    if (id >= 0 && id < n_vocab) logits_[id] += bias;
  }
  apply_penalties(logits_);
  const ByLogit by_logit{&logits_};

  // The highest logit, the lowest id among equals.
  const float max_logit = max_value(logits_.data(), n_vocab);
  const auto best =
      static_cast<int32_t>(std::find(logits_.begin(), logits_.end(), max_logit) - logits_.begin());
  // Greedy, or nothing is possible at all (every token banned): no draw to make.
  if (params_.temperature <= 0.0f || std::isinf(max_logit)) return best;

  // The candidate ids. Sorting all of a 150k vocabulary every step would cost as much as a
  // small model's forward pass, so the order is only established where a filter needs it:
  // top-k selects and sorts its k; top-p sorts only the smallest high-probability subset
  // that is sure to contain the nucleus; without either, the draw walks ids in any order.
  ids_.resize(logits.size());
  for (int32_t i = 0; i < n_vocab; ++i) ids_[i] = i;
  bool sorted = false;
  if (params_.top_k > 0 && params_.top_k < n_vocab) {
    const auto k = static_cast<long>(params_.top_k);
    std::nth_element(ids_.begin(), ids_.begin() + k - 1, ids_.end(), by_logit);
    ids_.resize(static_cast<size_t>(k));
    std::sort(ids_.begin(), ids_.end(), by_logit);
    sorted = true;
  }

  // Weights relative to the best token (which has weight 1): temperature, then exp.
  const float inv_t = 1.0f / params_.temperature;
  weights_.resize(logits.size());
  double total = 0;
  if (sorted) {
    for (int32_t id : ids_) {
      weights_[id] = std::exp((logits_[id] - max_logit) * inv_t);
      total += weights_[id];
    }
  } else {  // every token: one vector pass
    total = exp_shifted(logits_.data(), n_vocab, max_logit, inv_t, weights_.data());
  }

  if (params_.top_p < 1.0f) {
    const double target = params_.top_p * total;
    if (!sorted) {
      // Tokens at or above a weight threshold come first in the sorted order, so once their
      // mass reaches the target the nucleus lies among them: lower the threshold until it
      // does (on a peaked distribution, a few hundred tokens survive the first try).
      std::vector<int32_t> subset;
      for (float threshold = 1e-3f;; threshold *= 1e-3f) {
        subset.clear();
        double mass = 0;
        for (int32_t id : ids_) {
          if (weights_[id] >= threshold) {
            subset.push_back(id);
            mass += weights_[id];
          }
        }
        if (mass >= target || threshold < 1e-30f) break;
      }
      if (subset.size() < ids_.size()) ids_.swap(subset);
      std::sort(ids_.begin(), ids_.end(), by_logit);
      sorted = true;
    }
    // The smallest prefix whose mass reaches top_p (at least one token).
    double mass = 0;
    size_t n = 0;
    while (n < ids_.size()) {
      mass += weights_[ids_[n++]];
      if (mass >= target) break;
    }
    ids_.resize(n);
  }
  // min-p: drop tokens below min_p times the best token's probability (weight 1).
  if (params_.min_p > 0.0f) {
    std::erase_if(ids_, [&](int32_t id) { return weights_[id] < params_.min_p; });
  }

  double kept = 0;
  for (int32_t id : ids_) kept += weights_[id];
  // 53 random bits as a double in [0, 1): the same on every platform for a given seed.
  const double r = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * kept;
  double acc = 0;
  for (int32_t id : ids_) {
    acc += weights_[id];
    if (r < acc) return id;
  }
  return ids_.empty() ? best : ids_.back();
}

}  // namespace hearth
