// Scheduling of the attention work and the scalar kernel; the SIMD kernels are in
// attention_x86.cpp.
#include "engine/models/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "engine/kernels/cpu.h"
#include "engine/runtime/thread_pool.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth::models {
namespace attention_detail {
namespace {

const float* load_row(KvCacheType type, const uint8_t* row, int64_t n, float* out) {
  switch (type) {
    case KvCacheType::kF32: return reinterpret_cast<const float*>(row);
    case KvCacheType::kF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
      return out;
    }
    case KvCacheType::kQ8_0: {
      const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
      for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (int i = 0; i < kLegacyBlock; ++i) out[b * kLegacyBlock + i] = d * blocks[b].qs[i];
      }
      return out;
    }
  }
  return out;
}

// Eight independent partial sums: without -ffast-math the compiler may not reorder one
// running sum, but it does vectorize independent lanes.
float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

#include "engine/models/attend_keys.inc"

}  // namespace

void attend_scalar(const KeySpan& span) {
  attend_keys(span);
}

}  // namespace attention_detail

namespace {

using attention_detail::KeySpan;
using AttendFn = void (*)(const KeySpan&);

AttendFn attend_for_level() {
  switch (active_kernel_level()) {
    case KernelLevel::kAvx512: return attention_detail::attend_avx512;
    case KernelLevel::kAvx2: return attention_detail::attend_avx2;
    case KernelLevel::kScalar: break;
  }
  return attention_detail::attend_scalar;
}

// Keys per chunk below which splitting a single query's keys over threads does not pay.
constexpr int64_t kMinChunkKeys = 256;

}  // namespace

void attention(const HyperParams& hp, std::span<const SequenceBatch> seqs, int64_t layer,
               ForwardScratch& s, float* out, ThreadPool* pool) {
  static const AttendFn attend = attend_for_level();
  const auto n_tokens = static_cast<int64_t>(s.row_pos.size());
  const int64_t max_keys = *std::max_element(s.row_pos.begin(), s.row_pos.end()) + 1;
  const int64_t hd = hp.head_dim;
  const int64_t q_dim = hp.q_dim();
  const int64_t n_kv = hp.n_head_kv;
  const int64_t group = hp.n_head / n_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int threads = pool ? pool->size() : 1;

  // Enough (token, KV head) pairs keep every thread busy; otherwise (decode) each pair's keys
  // are split into chunks too, merged below.
  int64_t n_chunks = 1;
  const int64_t pairs = n_tokens * n_kv;
  if (pairs < 2 * threads) {
    const int64_t wanted = (2 * threads + pairs - 1) / pairs;
    n_chunks = std::clamp<int64_t>(max_keys / kMinChunkKeys, 1, wanted);
  }
  const int64_t n_items = pairs * n_chunks;
  // Per item: m and l for each head of the group, then group x hd accumulators.
  const int64_t item_floats = group * (2 + hd);
  s.attn_partial.resize(static_cast<size_t>(n_items * item_floats));
  float* partial = s.attn_partial.data();
  // Later tokens attend more keys: handing them out first lets the pool's dynamic chunks
  // even out the causal triangle instead of leaving the last chunk's thread alone at the end.
  auto token_of = [&](int64_t pair) { return n_tokens - 1 - pair / n_kv; };

  auto run = [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> work;
    work.resize(static_cast<size_t>(attention_detail::kBlock * group + 2 * hd));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t chunk = item % n_chunks;
      const int64_t pair = item / n_chunks;
      const int64_t t = token_of(pair);
      const int64_t g = pair % n_kv;
      const KvCache& cache = *seqs[s.row_seq[t]].cache;
      const int64_t n_keys = s.row_pos[t] + 1;
      // Keys before `first` are outside the sliding window: (query pos - key pos) >= n_swa.
      const int64_t first = hp.n_swa > 0 ? std::max<int64_t>(0, n_keys - hp.n_swa) : 0;
      const int64_t per_chunk = (n_keys - first + n_chunks - 1) / n_chunks;
      const int64_t k_begin = std::min(n_keys, first + chunk * per_chunk);
      const int64_t k_end = std::min(n_keys, k_begin + per_chunk);
      float* m = partial + item * item_floats;
      float* l = m + group;
      float* acc = l + group;
      std::fill(m, m + group, -INFINITY);
      std::fill(l, l + group + group * hd, 0.0f);
      if (k_begin >= k_end) continue;
      const size_t head_offset = cache.bytes_of(g * hd);
      attend(KeySpan{.k = cache.k(layer, 0) + head_offset,
                     .v = cache.v(layer, 0) + head_offset,
                     .row_bytes = cache.row_bytes(),
                     .type = cache.type(),
                     .begin = k_begin,
                     .end = k_end,
                     .q = s.q.data() + t * q_dim + g * group * hd,
                     .group = group,
                     .hd = hd,
                     .scale = scale,
                     .m = m,
                     .l = l,
                     .acc = acc,
                     .work = work.data()});
    }
  };
  if (pool && threads > 1 && n_items > 1) {
    pool->parallel_for(n_items, 1, run);
  } else {
    run(0, n_items);
  }

  // Merge the chunks of each (token, KV head) pair and normalize.
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const int64_t t = token_of(pair);
    const int64_t g = pair % n_kv;
    for (int64_t h = 0; h < group; ++h) {
      float m_all = -INFINITY;
      for (int64_t c = 0; c < n_chunks; ++c)
        m_all = std::max(m_all, partial[(pair * n_chunks + c) * item_floats + h]);
      float* oh = out + t * q_dim + (g * group + h) * hd;
      std::fill(oh, oh + hd, 0.0f);
      float l_all = 0;
      for (int64_t c = 0; c < n_chunks; ++c) {
        const float* m = partial + (pair * n_chunks + c) * item_floats;
        if (m[h] == -INFINITY) continue;  // an empty chunk
        const float weight = std::exp(m[h] - m_all);
        l_all += m[group + h] * weight;
        const float* acc = m + 2 * group + h * hd;
        for (int64_t i = 0; i < hd; ++i) oh[i] += acc[i] * weight;
      }
      const float inv = 1.0f / l_all;
      for (int64_t i = 0; i < hd; ++i) oh[i] *= inv;
    }
  }
}

}  // namespace hearth::models
