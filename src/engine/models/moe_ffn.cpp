// Routed experts (qwen3moe). Rows are grouped by expert so that each expert's three matrices
// are read once per batch, whatever the number of rows routed to it; at decode (one row) that
// is n_expert_used small FFNs instead of one wide one, which is where a 30B-A3B model gets its
// speed: only the chosen experts' weights are read.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/kernels/activation.h"
#include "engine/kernels/matmul.h"
#include "engine/models/forward.h"

namespace hearth::models {
namespace {

// Softmax of one row of router scores, then the k most probable experts (ties to the lower
// index) with their probabilities renormalized over the k.
void route_row(const float* scores, int64_t n_expert, int64_t k, int32_t* expert, float* weight,
               std::vector<int32_t>& order) {
  const float max_score = *std::max_element(scores, scores + n_expert);
  order.resize(static_cast<size_t>(n_expert));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  });
  // The softmax's denominator cancels in the renormalization: only exp(s - max) of the chosen
  // experts matters.
  double sum = 0;
  for (int64_t j = 0; j < k; ++j) {
    weight[j] = std::exp(scores[order[j]] - max_score);
    expert[j] = order[j];
    sum += weight[j];
  }
  for (int64_t j = 0; j < k; ++j) weight[j] = static_cast<float>(weight[j] / sum);
}

}  // namespace

void moe_ffn(const HyperParams& hp, const LayerWeights& layer, const float* xn, int64_t n,
             float* out, ForwardScratch& s, ThreadPool* pool) {
  const int64_t d = hp.n_embd;
  const int64_t n_expert = hp.n_expert;
  const int64_t k = hp.n_expert_used;
  const int64_t ff = hp.n_ff_exp;
  auto size = [](int64_t count) { return static_cast<size_t>(count); };

  s.router.resize(size(n * n_expert));
  matmul(layer.ffn_gate_inp, xn, n, s.router.data(), pool);
  s.chosen_expert.resize(size(n * k));
  s.chosen_weight.resize(size(n * k));
  for (int64_t t = 0; t < n; ++t) {
    route_row(s.router.data() + t * n_expert, n_expert, k, s.chosen_expert.data() + t * k,
              s.chosen_weight.data() + t * k, s.route_order);
  }
  // Group the (row, expert) slots by expert: a counting sort, rows ascending within an expert.
  s.expert_start.assign(size(n_expert + 1), 0);
  for (int32_t e : s.chosen_expert) ++s.expert_start[size(e + 1)];
  std::partial_sum(s.expert_start.begin(), s.expert_start.end(), s.expert_start.begin());
  s.expert_slots.resize(size(n * k));
  s.expert_next.assign(s.expert_start.begin(), s.expert_start.end() - 1);
  for (int64_t slot = 0; slot < n * k; ++slot)
    s.expert_slots[size(s.expert_next[size(s.chosen_expert[size(slot)])]++)] = slot;

  std::fill(out, out + n * d, 0.0f);
  for (int64_t e = 0; e < n_expert; ++e) {
    const int64_t begin = s.expert_start[size(e)];
    const int64_t m = s.expert_start[size(e + 1)] - begin;
    if (m == 0) continue;
    s.expert_in.resize(size(m * d));
    s.expert_gate.resize(size(m * ff));
    s.expert_up.resize(size(m * ff));
    s.expert_out.resize(size(m * d));
    for (int64_t i = 0; i < m; ++i) {
      const int64_t row = s.expert_slots[size(begin + i)] / k;
      std::copy_n(xn + row * d, d, s.expert_in.data() + i * d);
    }
    const WeightMatrix* const ws[] = {&layer.gate_exps[size(e)], &layer.up_exps[size(e)]};
    float* const outs[] = {s.expert_gate.data(), s.expert_up.data()};
    matmul_many(ws, s.expert_in.data(), m, outs, pool);
    swiglu_in_place(s.expert_gate.data(), s.expert_up.data(), m * ff);
    matmul(layer.down_exps[size(e)], s.expert_up.data(), m, s.expert_out.data(), pool);
    for (int64_t i = 0; i < m; ++i) {
      const int64_t slot = s.expert_slots[size(begin + i)];
      const float w = s.chosen_weight[size(slot)];
      float* dst = out + (slot / k) * d;
      const float* src = s.expert_out.data() + i * d;
      for (int64_t j = 0; j < d; ++j) dst[j] += w * src[j];
    }
  }
}

}  // namespace hearth::models
