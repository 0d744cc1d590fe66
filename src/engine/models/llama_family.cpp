// Forward pass of the llama family (llama, qwen2, phi3, qwen3, gemma3, smollm3): pre-norm decoder
// blocks of RMSNorm -> GQA self-attention with RoPE -> residual -> RMSNorm -> gated FFN ->
// residual, then a final RMSNorm and the vocabulary projection. The variations are the
// architecture table's flags: per-head q/k norms before RoPE (qwen3, gemma3), norms of the
// attention and FFN outputs before their residual adds, a scaled embedding, GELU-tanh instead
// of SiLU, and sliding-window layers interleaved with global ones, each kind with its own RoPE
// table (gemma3), layers without RoPE (smollm3), and routed experts in place of the FFN
// (qwen3moe, moe_ffn.cpp).
//
// Layout: activations are row-major, one row per token. Each head of q/k/v is `head_dim`
// contiguous floats inside the row. Keys are stored in the cache already rotated, so later
// tokens never re-rotate them. Attention scores and softmax are F32 throughout.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <utility>

#include "engine/kernels/activation.h"
#include "engine/kernels/matmul.h"
#include "engine/models/attention.h"
#include "engine/models/forward.h"
#include "engine/platform/thread_pool.h"

namespace hearth::models {
namespace {

void parallel(ThreadPool* pool, int64_t n, int64_t grain,
              const std::function<void(int64_t, int64_t)>& fn) {
  if (pool && pool->size() > 1 && n > grain) {
    pool->parallel_for(n, grain, fn);
  } else {
    fn(0, n);
  }
}

void rms_norm_row(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double sum_sq = 0;
  for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void rms_norm_rows(const float* x, const std::vector<float>& weight, int64_t n_rows, float eps,
                   float* out, ThreadPool* pool) {
  const auto n = static_cast<int64_t>(weight.size());
  parallel(pool, n_rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      rms_norm_row(x + r * n, weight.data(), n, eps, out + r * n);
  });
}

// x += delta, then out = rms_norm(x): one pass over the residual row for both, which decode
// (a few rows, memory-bound) does twice per layer.
void add_rms_norm_rows(float* x, const float* delta, const std::vector<float>& weight,
                       int64_t n_rows, float eps, float* out, ThreadPool* pool) {
  const auto n = static_cast<int64_t>(weight.size());
  parallel(pool, n_rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* xr = x + r * n;
      const float* dr = delta + r * n;
      double sum_sq = 0;
      for (int64_t i = 0; i < n; ++i) {
        xr[i] += dr[i];
        sum_sq += static_cast<double>(xr[i]) * xr[i];
      }
      const float scale =
          static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
      float* o = out + r * n;
      for (int64_t i = 0; i < n; ++i) o[i] = xr[i] * scale * weight[i];
    }
  });
}

void add_bias(float* rows, int64_t n_rows, int64_t stride, const std::vector<float>& bias) {
  if (bias.empty()) return;
  const auto n = static_cast<int64_t>(bias.size());
  for (int64_t r = 0; r < n_rows; ++r) {
    float* row = rows + r * stride;
    for (int64_t i = 0; i < n; ++i) row[i] += bias[i];
  }
}

// out[i] = gelu_tanh(gate[i]) * up[i]: Gemma's GeGLU. The tanh form is the one Gemma was
// trained with (HF "gelu_pytorch_tanh"). 0.5 x (1 + tanh(u)) is computed as x / (1 + e^(-2u)),
// the same value with one expf instead of a tanhf, which took most of a gemma3-1b prompt's
// time (n_ff = 6912 per token and layer). Large |u| gives x or -0 (e^(-2u) = inf), not NaN.
void geglu_tanh(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float kTwoSqrt2OverPi = 2 * 0.79788456080286536f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    const float two_u = kTwoSqrt2OverPi * x * (1.0f + 0.044715f * x * x);
    out[i] = x / (1.0f + std::exp(-two_u)) * up[i];
  }
}

// RMSNorm of each head_dim-wide head of a row, in place (qwen3/gemma3 q and k norms).
void rms_norm_heads(float* row, int64_t n_heads, const HyperParams& hp,
                    const std::vector<float>& weight) {
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = row + h * hp.head_dim;
    rms_norm_row(head, weight.data(), hp.head_dim, hp.rms_eps, head);
  }
}

// cos/sin of every (token, frequency) pair of the batch. Handles plain RoPE, linear scaling,
// YaRN (blend of interpolated and extrapolated angles by frequency band, with magnitude
// correction) and per-frequency divisors (llama3 rope_freqs, phi3 LongRoPE).
// Row r sits at position s.row_pos[r] and uses the factors of its sequence.
void build_rope_table(const HyperParams& hp, std::span<const std::vector<float>* const> seq_factors,
                      const ForwardScratch& s, std::vector<float>& cos_out,
                      std::vector<float>& sin_out) {
  const auto n_tokens = static_cast<int64_t>(s.row_pos.size());
  const int64_t n_freq = hp.n_rot / 2;
  cos_out.resize(static_cast<size_t>(n_tokens * n_freq));
  sin_out.resize(static_cast<size_t>(n_tokens * n_freq));
  const double base = hp.rope_freq_base;
  const double freq_scale = hp.rope_freq_scale;
  const bool yarn = hp.rope_scaling == RopeScalingType::kYarn;
  double mscale = hp.rope_attn_factor;
  double ramp_low = 0, ramp_high = 0;
  if (yarn) {
    // Dimensions whose wavelength fits the original context fewer than beta times rotate
    // interpolated; those with more than beta_fast rotations keep their original angle.
    const double n_dims = static_cast<double>(hp.n_rot);
    const double n_orig = static_cast<double>(hp.rope_n_ctx_orig);
    auto corr_dim = [&](double n_rotations) {
      return n_dims * std::log(n_orig / (n_rotations * 2 * std::numbers::pi)) /
             (2 * std::log(base));
    };
    ramp_low = std::max(0.0, std::floor(corr_dim(hp.yarn_beta_fast)));
    ramp_high = std::min(n_dims - 1, std::ceil(corr_dim(hp.yarn_beta_slow)));
    mscale *= 1.0 + 0.1 * std::log(1.0 / freq_scale);
  }
  for (int64_t i = 0; i < n_freq; ++i) {
    const double base_freq =
        std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(hp.n_rot));
    double ramp = 0;
    if (yarn) {
      const double y = (static_cast<double>(i) - ramp_low) / std::max(0.001, ramp_high - ramp_low);
      ramp = 1.0 - std::clamp(y, 0.0, 1.0);
    }
    for (int64_t t = 0; t < n_tokens; ++t) {
      const std::vector<float>& factors = *seq_factors[s.row_seq[t]];
      const double freq = factors.empty() ? base_freq : base_freq / factors[i];
      const double extrapolated = static_cast<double>(s.row_pos[t]) * freq;
      const double interpolated = extrapolated * freq_scale;
      const double theta = interpolated * (1 - ramp) + extrapolated * ramp;
      cos_out[t * n_freq + i] = static_cast<float>(std::cos(theta) * mscale);
      sin_out[t * n_freq + i] = static_cast<float>(std::sin(theta) * mscale);
    }
  }
}

// Rotates the first n_rot dims of every head of row t (n_heads heads) in place, with the
// angles of `cos_table` / `sin_table` (n_tokens x n_rot/2).
void rope_row(float* row, int64_t t, int64_t n_heads, const HyperParams& hp, RopeStyle style,
              const std::vector<float>& cos_table, const std::vector<float>& sin_table) {
  const int64_t n_freq = hp.n_rot / 2;
  // Pair partner offset and pair stride: adjacent pairs (2i, 2i+1) or halves (i, i + n_rot/2).
  const int64_t partner = style == RopeStyle::kAdjacentPairs ? 1 : n_freq;
  const int64_t step = style == RopeStyle::kAdjacentPairs ? 2 : 1;
  const float* cos_t = cos_table.data() + t * n_freq;
  const float* sin_t = sin_table.data() + t * n_freq;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = row + h * hp.head_dim;
    for (int64_t i = 0; i < n_freq; ++i) {
      float* a = head + i * step;
      float* b = a + partner;
      const float x0 = *a;
      const float x1 = *b;
      *a = x0 * cos_t[i] - x1 * sin_t[i];
      *b = x0 * sin_t[i] + x1 * cos_t[i];
    }
  }
}

// One decoder block. On entry s.xn holds attn_norm(x); on exit x has both residuals added
// and, when `next` is given, s.xn holds next->attn_norm(x) (fused with the residual add).
void llama_block(const ModelWeights& w, const LayerWeights& L, const LayerWeights* next,
                 int64_t layer, std::span<const SequenceBatch> seqs, ForwardScratch& s, int64_t n,
                 ThreadPool* pool) {
  const HyperParams& hp = w.hp;
  const int64_t d = hp.n_embd;
  const int64_t q_dim = hp.q_dim();
  const int64_t kv_dim = hp.kv_dim();

  project_qkv(hp, L, s.xn.data(), n, s, pool);
  // Per token: add the biases, rotate q and k, then store k (rotated, so later tokens never
  // rotate it again) and v in the cache's type while the row is still in cache. Rows are
  // independent (each writes its own cache position), so a prompt's rows run in parallel.
  const RopeStyle style = w.arch->rope_style;
  const bool local_rope = hp.layer_has_local_rope(layer);
  const bool rope = hp.layer_has_rope(layer);
  const std::vector<float>& cos_table = local_rope ? s.rope_cos_swa : s.rope_cos;
  const std::vector<float>& sin_table = local_rope ? s.rope_sin_swa : s.rope_sin;
  parallel(pool, n, 4, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      float* q_row = s.q.data() + t * q_dim;
      float* k_row = s.k.data() + t * kv_dim;
      float* v_row = s.v.data() + t * kv_dim;
      add_bias(q_row, 1, q_dim, L.bq);
      add_bias(k_row, 1, kv_dim, L.bk);
      add_bias(v_row, 1, kv_dim, L.bv);
      if (!L.q_norm.empty()) {
        rms_norm_heads(q_row, hp.n_head, hp, L.q_norm);
        rms_norm_heads(k_row, hp.n_head_kv, hp, L.k_norm);
      }
      if (rope) {
        rope_row(q_row, t, hp.n_head, hp, style, cos_table, sin_table);
        rope_row(k_row, t, hp.n_head_kv, hp, style, cos_table, sin_table);
      }
      KvCache& cache = *seqs[s.row_seq[t]].cache;
      cache.write_k(layer, s.row_pos[t], k_row);
      cache.write_v(layer, s.row_pos[t], v_row);
    }
  });

  if (hp.layer_is_swa(layer) == (hp.n_swa > 0)) {
    attention(hp, seqs, layer, s, s.attn.data(), pool);
  } else {
    // A global layer of a model with local ones sees the whole context.
    HyperParams global = hp;
    global.n_swa = 0;
    attention(global, seqs, layer, s, s.attn.data(), pool);
  }
  matmul(L.wo, s.attn.data(), n, s.proj.data(), pool);
  add_bias(s.proj.data(), n, d, L.bo);
  if (!L.post_attn_norm.empty())
    rms_norm_rows(s.proj.data(), L.post_attn_norm, n, hp.rms_eps, s.proj.data(), pool);
  add_rms_norm_rows(s.x.data(), s.proj.data(), L.ffn_norm, n, hp.rms_eps, s.xn.data(), pool);
  const int64_t ff = hp.n_ff;
  if (!L.gate_exps.empty()) {
    moe_ffn(hp, L, s.xn.data(), n, s.proj.data(), s, pool);
  } else if (L.w_gate.data) {
    const WeightMatrix* const ws[] = {&L.w_gate, &L.w_up};
    float* const outs[] = {s.gate.data(), s.up.data()};
    matmul_many(ws, s.xn.data(), n, outs, pool);
    const bool gelu = w.arch->ffn_activation == FfnActivation::kGeluTanh;
    parallel(pool, n, 4, [&](int64_t begin, int64_t end) {
      float* up = s.up.data() + begin * ff;
      if (gelu) {
        geglu_tanh(s.gate.data() + begin * ff, up, up, (end - begin) * ff);
      } else {
        swiglu_in_place(s.gate.data() + begin * ff, up, (end - begin) * ff);
      }
    });
  } else {
    // Fused [gate; up]: each output row holds the gate half then the up half.
    matmul(L.w_up, s.xn.data(), n, s.gate.data(), pool);
    parallel(pool, n, 4, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const float* g = s.gate.data() + t * 2 * ff;
        swiglu(g, g + ff, s.up.data() + t * ff, ff);
      }
    });
  }
  if (L.gate_exps.empty()) matmul(L.w_down, s.up.data(), n, s.proj.data(), pool);
  if (!L.post_ffn_norm.empty())
    rms_norm_rows(s.proj.data(), L.post_ffn_norm, n, hp.rms_eps, s.proj.data(), pool);
  if (next) {
    add_rms_norm_rows(s.x.data(), s.proj.data(), next->attn_norm, n, hp.rms_eps, s.xn.data(), pool);
  } else {
    for (int64_t i = 0; i < n * d; ++i) s.x[i] += s.proj[i];
  }
}

Status llama_forward(const ModelWeights& w, std::span<const SequenceBatch> seqs, ForwardScratch& s,
                     ThreadPool* pool) {
  const HyperParams& hp = w.hp;
  const int64_t d = hp.n_embd;
  auto size = [](int64_t count) { return static_cast<size_t>(count); };
  // Rows of all sequences, one after the other.
  s.row_seq.clear();
  s.row_pos.clear();
  std::vector<const std::vector<float>*> seq_factors;
  int64_t n_out = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int64_t pos0 = seqs[i].cache->n_past();
    for (size_t t = 0; t < seqs[i].batch.tokens.size(); ++t) {
      s.row_seq.push_back(static_cast<int32_t>(i));
      s.row_pos.push_back(pos0 + static_cast<int64_t>(t));
    }
    seq_factors.push_back(&w.rope_factors_for(seqs[i].batch.n_ctx));
    n_out += static_cast<int64_t>(seqs[i].batch.output_rows.size());
  }
  const auto n = static_cast<int64_t>(s.row_pos.size());
  if (n == 0) return ok();
  // Sliding-window layers may have to move their kept rows before this batch is written.
  for (const auto& seq : seqs) {
    if (auto st = seq.cache->reserve(static_cast<int64_t>(seq.batch.tokens.size())); !st) return st;
  }
  s.x.resize(size(n * d));
  s.xn.resize(size(n * d));
  s.q.resize(size(n * hp.q_dim()));
  s.k.resize(size(n * hp.kv_dim()));
  s.v.resize(size(n * hp.kv_dim()));
  s.attn.resize(size(n * hp.q_dim()));
  s.proj.resize(size(n * d));
  if (hp.n_expert == 0) {  // routed experts use their own buffers (moe_ffn)
    s.gate.resize(size(n * hp.n_ff * (w.layers.front().w_gate.data ? 1 : 2)));
    s.up.resize(size(n * hp.n_ff));
  }

  int64_t row = 0;
  for (const auto& seq : seqs) {
    for (int32_t token : seq.batch.tokens) get_row(w.token_embd, token, s.x.data() + row++ * d);
  }
  if (w.arch->scale_embedding) {
    const float scale = std::sqrt(static_cast<float>(d));
    for (int64_t i = 0; i < n * d; ++i) s.x[i] *= scale;
  }
  build_rope_table(hp, seq_factors, s, s.rope_cos, s.rope_sin);
  if (hp.swa_period > 0) {
    // Local layers: their own base, no scaling, no frequency factors.
    HyperParams local = hp;
    local.rope_freq_base = hp.rope_freq_base_swa;
    local.rope_scaling = RopeScalingType::kNone;
    local.rope_freq_scale = 1.0f;
    local.rope_attn_factor = 1.0f;
    static const std::vector<float> kNoFactors;
    const std::vector<const std::vector<float>*> none(seqs.size(), &kNoFactors);
    build_rope_table(local, none, s, s.rope_cos_swa, s.rope_sin_swa);
  }
  rms_norm_rows(s.x.data(), w.layers.front().attn_norm, n, hp.rms_eps, s.xn.data(), pool);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const LayerWeights* next = il + 1 < hp.n_layer ? &w.layers[il + 1] : nullptr;
    llama_block(w, w.layers[il], next, il, seqs, s, n, pool);
  }
  for (const auto& seq : seqs) seq.cache->advance(static_cast<int64_t>(seq.batch.tokens.size()));

  if (n_out == 0) return ok();
  // One output projection for every requested row of every sequence.
  s.out_norm.resize(size(n_out * d));
  int64_t out = 0;
  row = 0;
  for (const auto& seq : seqs) {
    for (int32_t r : seq.batch.output_rows) {
      rms_norm_row(s.x.data() + (row + r) * d, w.output_norm.data(), d, hp.rms_eps,
                   s.out_norm.data() + out++ * d);
    }
    row += static_cast<int64_t>(seq.batch.tokens.size());
  }
  out = 0;
  for (const auto& seq : seqs) {
    const auto rows = static_cast<int64_t>(seq.batch.output_rows.size());
    if (seq.batch.embeddings)
      std::copy_n(s.out_norm.data() + out * d, rows * d, seq.batch.embeddings);
    out += rows;
  }
  const int64_t n_vocab = hp.n_vocab;
  if (seqs.size() == 1) {
    if (!seqs[0].batch.logits) return ok();  // hidden states only (embeddings)
    matmul(w.output, s.out_norm.data(), n_out, seqs[0].batch.logits, pool);
    return ok();
  }
  s.logits.resize(size(n_out * n_vocab));
  matmul(w.output, s.out_norm.data(), n_out, s.logits.data(), pool);
  out = 0;
  for (const auto& seq : seqs) {
    const auto rows = static_cast<int64_t>(seq.batch.output_rows.size());
    std::copy_n(s.logits.data() + out * n_vocab, rows * n_vocab, seq.batch.logits);
    out += rows;
  }
  return ok();
}

}  // namespace

void project_qkv(const HyperParams& hp, const LayerWeights& layer, const float* x, int64_t n,
                 ForwardScratch& s, ThreadPool* pool) {
  const int64_t q_dim = hp.q_dim();
  const int64_t kv_dim = hp.kv_dim();
  if (layer.wqkv.data) {
    const int64_t qkv_dim = q_dim + 2 * kv_dim;
    s.qkv.resize(static_cast<size_t>(n * qkv_dim));
    matmul(layer.wqkv, x, n, s.qkv.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
      const float* row = s.qkv.data() + t * qkv_dim;
      std::copy(row, row + q_dim, s.q.data() + t * q_dim);
      std::copy(row + q_dim, row + q_dim + kv_dim, s.k.data() + t * kv_dim);
      std::copy(row + q_dim + kv_dim, row + qkv_dim, s.v.data() + t * kv_dim);
    }
    return;
  }
  // One quantization of x and one pool round trip for the three.
  const WeightMatrix* const ws[] = {&layer.wq, &layer.wk, &layer.wv};
  float* const outs[] = {s.q.data(), s.k.data(), s.v.data()};
  matmul_many(ws, x, n, outs, pool);
}

Status forward(const ModelWeights& weights, std::span<const SequenceBatch> sequences,
               ForwardScratch& scratch, ThreadPool* pool) {
  switch (weights.arch->family) {
    case Family::kLlama: return llama_forward(weights, sequences, scratch, pool);
    case Family::kBert: return fail("an embedding model has no decoder forward pass");
  }
  return fail("unknown model family");
}

Status forward(const ModelWeights& weights, KvCache& cache, ForwardScratch& scratch,
               const ForwardBatch& batch, ThreadPool* pool) {
  const SequenceBatch one{.cache = &cache, .batch = batch};
  return forward(weights, std::span(&one, 1), scratch, pool);
}

}  // namespace hearth::models
