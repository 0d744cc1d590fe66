// Forward pass of the BERT family: encoder-only embedding models (bert: bge, all-MiniLM, e5,
// mxbai-embed; nomic-bert: nomic-embed-text).
//
//   x = LayerNorm(token_embd[tok] + position_embd[pos] + token_types[0])
//   per layer (post-norm):
//     x = LayerNorm(x + (MultiHeadAttention(x) Wo + bo))      attention sees every token
//     x = LayerNorm(x + (GELU(x Wup + bup) Wdown + bdown))
//   pooled = mean / first (CLS) / last row of x
//
// nomic-bert has no position_embd; it rotates q and k instead (RoPE, NeoX halves), projects
// q/k/v with one fused matrix, and its FFN is SwiGLU: (silu(x Wgate) * x Wup) Wdown. Missing
// biases are simply skipped.
//
// Unlike the decoder there is no KV cache: every token attends to every other one, so the
// whole input is evaluated in one pass, and a later token changes the states of earlier ones.
// Layout as in llama_family.cpp: row-major activations, one row per token, each head
// `head_dim` contiguous floats of the row. Matrices go through `matmul`, so quantized weights
// work as they do for the decoders.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/kernels/matmul.h"
#include "engine/models/forward.h"
#include "engine/platform/thread_pool.h"

namespace hearth::models {
namespace {

// x = LayerNorm(x + delta) row by row (delta may be null). Mean and variance are summed in
// double: embeddings are compared by cosine, and the residual stream of a deep encoder has
// rows with a large common offset that float sums would round away.
void add_layer_norm_rows(float* x, const float* delta, const std::vector<float>& weight,
                         const std::vector<float>& bias, int64_t n_rows, float eps,
                         ThreadPool* pool) {
  const auto n = static_cast<int64_t>(weight.size());
  parallel_for(pool, n_rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* xr = x + r * n;
      if (delta) {
        const float* dr = delta + r * n;
        for (int64_t i = 0; i < n; ++i) xr[i] += dr[i];
      }
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += xr[i];
      const double mean = sum / static_cast<double>(n);
      double sum_sq = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double c = xr[i] - mean;
        sum_sq += c * c;
      }
      const double inv = 1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps);
      for (int64_t i = 0; i < n; ++i) {
        xr[i] = static_cast<float>((xr[i] - mean) * inv) * weight[i] + bias[i];
      }
    }
  });
}

void add_bias_rows(float* rows, int64_t n_rows, const std::vector<float>& bias) {
  const auto n = static_cast<int64_t>(bias.size());
  for (int64_t r = 0; r < n_rows; ++r) {
    float* row = rows + r * n;
    for (int64_t i = 0; i < n; ++i) row[i] += bias[i];
  }
}

// Rotates the first n_rot dims of every head of every row; row t sits at position t.
void rope_rows(const HyperParams& hp, RopeStyle style, float* rows, int64_t n, int64_t n_heads,
               int64_t stride) {
  const int64_t n_freq = hp.n_rot / 2;
  const int64_t partner = style == RopeStyle::kAdjacentPairs ? 1 : n_freq;
  const int64_t step = style == RopeStyle::kAdjacentPairs ? 2 : 1;
  std::vector<double> inv_freq(static_cast<size_t>(n_freq));
  for (int64_t i = 0; i < n_freq; ++i) {
    inv_freq[i] = std::pow(static_cast<double>(hp.rope_freq_base),
                           -2.0 * static_cast<double>(i) / static_cast<double>(hp.n_rot));
  }
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < n_freq; ++i) {
      const double theta = static_cast<double>(t) * inv_freq[i];
      const auto c = static_cast<float>(std::cos(theta));
      const auto sn = static_cast<float>(std::sin(theta));
      for (int64_t h = 0; h < n_heads; ++h) {
        float* a = rows + t * stride + h * hp.head_dim + i * step;
        float* b = a + partner;
        const float x0 = *a;
        const float x1 = *b;
        *a = x0 * c - x1 * sn;
        *b = x0 * sn + x1 * c;
      }
    }
  }
}

// The exact (erf) GELU that BERT checkpoints were trained with, not the tanh approximation.
float gelu(float x) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
}

// Bidirectional attention of n tokens: out[i, head h] = softmax_j(q_i . k_j / sqrt(d)) v_j.
// Every token sees every token; no mask. Two ways, both F32 with the row maximum subtracted
// before exp: `attention_direct` loops over (head, query) pairs, and `attention_matmul`
// turns each head into two matrix products. The products win from about 160 tokens on
// (measured on all-MiniLM-L6-v2 at AVX-512: 1.6x at 256 tokens, 2.3x at 512) and lose below,
// where the per-call overhead of 2 x n_head small products dominates.
constexpr int64_t kMatmulAttentionMinTokens = 160;

// Work items are (head, query) pairs.
void attention_direct(const HyperParams& hp, const float* q, const float* k, const float* v,
                      int64_t n, float* out, ThreadPool* pool) {
  const int64_t hd = hp.head_dim;
  const int64_t q_dim = hp.q_dim();
  const int64_t kv_dim = hp.kv_dim();
  const int64_t group = hp.n_head / hp.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  parallel_for(pool, hp.n_head * n, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(n));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t h = item / n;
      const int64_t i = item % n;
      const float* qi = q + i * q_dim + h * hd;
      const int64_t kv_off = (h / group) * hd;
      float max_score = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        const float* kj = k + j * kv_dim + kv_off;
        float dot = 0;
        for (int64_t c = 0; c < hd; ++c) dot += qi[c] * kj[c];
        scores[j] = dot * scale;
        max_score = std::max(max_score, scores[j]);
      }
      float sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        scores[j] = std::exp(scores[j] - max_score);
        sum += scores[j];
      }
      float* o = out + i * q_dim + h * hd;
      std::fill_n(o, hd, 0.0f);
      for (int64_t j = 0; j < n; ++j) {
        const float p = scores[j] / sum;
        const float* vj = v + j * kv_dim + kv_off;
        for (int64_t c = 0; c < hd; ++c) o[c] += p * vj[c];
      }
    }
  });
}

// Per head, `matmul` with the head's keys (and its transposed values) as F32 "weights":
// S = Q K^T, softmax by rows, O = P V.
void attention_matmul(const HyperParams& hp, const float* q, const float* k, const float* v,
                      int64_t n, float* out, ThreadPool* pool) {
  const int64_t hd = hp.head_dim;
  const int64_t q_dim = hp.q_dim();
  const int64_t kv_dim = hp.kv_dim();
  const int64_t group = hp.n_head / hp.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto size = [](int64_t count) { return static_cast<size_t>(count); };
  std::vector<float> qh(size(n * hd)), kh(size(n * hd)), vt(size(hd * n));
  std::vector<float> scores(size(n * n)), oh(size(n * hd));
  for (int64_t h = 0; h < hp.n_head; ++h) {
    const int64_t kv_off = (h / group) * hd;
    for (int64_t t = 0; t < n; ++t) {
      std::copy_n(q + t * q_dim + h * hd, hd, qh.data() + t * hd);
      std::copy_n(k + t * kv_dim + kv_off, hd, kh.data() + t * hd);
      for (int64_t c = 0; c < hd; ++c) vt[c * n + t] = v[t * kv_dim + kv_off + c];
    }
    const WeightMatrix keys{.type = TensorType::F32, .data = kh.data(), .rows = n, .cols = hd};
    matmul(keys, qh.data(), n, scores.data(), pool);
    parallel_for(pool, n, 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float* row = scores.data() + i * n;
        float max_score = -INFINITY;
        for (int64_t j = 0; j < n; ++j) max_score = std::max(max_score, row[j] * scale);
        float sum = 0;
        for (int64_t j = 0; j < n; ++j) sum += row[j] = std::exp(row[j] * scale - max_score);
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; ++j) row[j] *= inv;
      }
    });
    const WeightMatrix values{.type = TensorType::F32, .data = vt.data(), .rows = hd, .cols = n};
    matmul(values, scores.data(), n, oh.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
      std::copy_n(oh.data() + t * hd, hd, out + t * q_dim + h * hd);
    }
  }
}

void encoder_block(const ArchSpec& arch, const HyperParams& hp, const LayerWeights& L,
                   ForwardScratch& s, int64_t n, ThreadPool* pool) {
  const int64_t q_dim = hp.q_dim();
  const int64_t kv_dim = hp.kv_dim();
  project_qkv(hp, L, s.x.data(), n, s, pool);
  add_bias_rows(s.q.data(), n, L.bq);
  add_bias_rows(s.k.data(), n, L.bk);
  add_bias_rows(s.v.data(), n, L.bv);
  if (!arch.learned_positions) {
    rope_rows(hp, arch.rope_style, s.q.data(), n, hp.n_head, q_dim);
    rope_rows(hp, arch.rope_style, s.k.data(), n, hp.n_head_kv, kv_dim);
  }
  if (n >= kMatmulAttentionMinTokens) {
    attention_matmul(hp, s.q.data(), s.k.data(), s.v.data(), n, s.attn.data(), pool);
  } else {
    attention_direct(hp, s.q.data(), s.k.data(), s.v.data(), n, s.attn.data(), pool);
  }
  matmul(L.wo, s.attn.data(), n, s.proj.data(), pool);
  add_bias_rows(s.proj.data(), n, L.bo);
  add_layer_norm_rows(s.x.data(), s.proj.data(), L.attn_out_norm, L.attn_out_norm_b, n, hp.norm_eps,
                      pool);

  matmul(L.w_up, s.x.data(), n, s.up.data(), pool);
  add_bias_rows(s.up.data(), n, L.b_up);
  const int64_t ff = hp.n_ff;
  if (L.w_gate.data) matmul(L.w_gate, s.x.data(), n, s.gate.data(), pool);
  parallel_for(pool, n, 4, [&](int64_t begin, int64_t end) {
    float* up = s.up.data();
    if (L.w_gate.data) {
      const float* gate = s.gate.data();
      for (int64_t i = begin * ff; i < end * ff; ++i) {
        up[i] *= gate[i] / (1.0f + std::exp(-gate[i]));
      }
    } else {
      for (int64_t i = begin * ff; i < end * ff; ++i) up[i] = gelu(up[i]);
    }
  });
  matmul(L.w_down, s.up.data(), n, s.proj.data(), pool);
  add_bias_rows(s.proj.data(), n, L.b_down);
  add_layer_norm_rows(s.x.data(), s.proj.data(), L.layer_out_norm, L.layer_out_norm_b, n,
                      hp.norm_eps, pool);
}

}  // namespace

Status encode(const ModelWeights& w, std::span<const int32_t> tokens, ForwardScratch& s,
              float* pooled, ThreadPool* pool) {
  if (w.arch->family != Family::kBert) return fail("encode: not an encoder model");
  const HyperParams& hp = w.hp;
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) return fail("encode: no tokens");
  if (n > hp.n_ctx_train) {
    return fail("encode: the input is longer than the model's trained context");
  }
  const int64_t d = hp.n_embd;
  auto size = [](int64_t count) { return static_cast<size_t>(count); };
  s.x.resize(size(n * d));
  s.xn.resize(size(d));
  s.q.resize(size(n * hp.q_dim()));
  s.k.resize(size(n * hp.kv_dim()));
  s.v.resize(size(n * hp.kv_dim()));
  s.attn.resize(size(n * hp.q_dim()));
  s.proj.resize(size(n * d));
  s.up.resize(size(n * hp.n_ff));
  if (w.arch->gated_ffn) s.gate.resize(size(n * hp.n_ff));

  // Single-segment input: every token has type 0.
  std::vector<float> type0(size(d));
  if (w.token_types.data) get_row(w.token_types, 0, type0.data());
  for (int64_t t = 0; t < n; ++t) {
    float* row = s.x.data() + t * d;
    get_row(w.token_embd, tokens[t], row);
    for (int64_t i = 0; i < d; ++i) row[i] += type0[i];
    if (w.position_embd.data) {
      get_row(w.position_embd, t, s.xn.data());
      for (int64_t i = 0; i < d; ++i) row[i] += s.xn[i];
    }
  }
  add_layer_norm_rows(s.x.data(), nullptr, w.token_embd_norm, w.token_embd_norm_b, n, hp.norm_eps,
                      pool);
  for (const LayerWeights& layer : w.layers) encoder_block(*w.arch, hp, layer, s, n, pool);

  switch (hp.pooling) {
    case Pooling::kCls: std::copy_n(s.x.data(), d, pooled); break;
    case Pooling::kLast: std::copy_n(s.x.data() + (n - 1) * d, d, pooled); break;
    case Pooling::kNone:
    case Pooling::kMean: {
      std::vector<double> sum(size(d));
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t i = 0; i < d; ++i) sum[i] += s.x[t * d + i];
      }
      for (int64_t i = 0; i < d; ++i) pooled[i] = static_cast<float>(sum[i] / n);
      break;
    }
  }
  return ok();
}

}  // namespace hearth::models
