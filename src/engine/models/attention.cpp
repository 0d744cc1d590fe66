// Scheduling of the attention tiles; the tile kernels are the kernel tables'
// (kernels/attention_tile.h).
#include "engine/models/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/kernels/kernel_table.h"
#include "engine/platform/thread_pool.h"

namespace hearth::models {
namespace attention_detail {

namespace {

// Keys per chunk below which splitting a query block's keys over threads does not pay.
constexpr int64_t kMinChunkKeys = 256;
// Query rows (tokens x heads of a group) per prefill tile: enough that converting a key
// block is amortized over many rows, few enough that the tile's scratch stays in L2. Capped
// in tokens because a block's later tokens score the keys its earlier ones mask.
constexpr int64_t kTileRows = 112;
constexpr int64_t kMaxTileTokens = 32;

// Consecutive batch rows [t0, t0 + n) of one sequence at consecutive positions.
struct QueryBlock {
  int64_t t0 = 0;
  int64_t n = 0;
};

}  // namespace

void attention_with_kernels(const KernelTable& kernels, const HyperParams& hp,
                            std::span<const SequenceBatch> seqs, int64_t layer, ForwardScratch& s,
                            float* out, ThreadPool* pool) {
  const AttendTileFn attend = kernels.attend_tile;
  const auto n_tokens = static_cast<int64_t>(s.row_pos.size());
  if (n_tokens == 0) return;
  const int64_t hd = hp.head_dim;
  const int64_t q_dim = hp.q_dim();
  const int64_t n_kv = hp.n_head_kv;
  const int64_t group = hp.n_head / n_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int threads = pool ? pool->size() : 1;
  const int64_t max_tokens = std::clamp<int64_t>(kTileRows / group, 1, kMaxTileTokens);

  std::vector<QueryBlock> blocks;
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (!blocks.empty()) {
      QueryBlock& b = blocks.back();
      const int64_t last = b.t0 + b.n - 1;
      if (b.n < max_tokens && s.row_seq[t] == s.row_seq[last] &&
          s.row_pos[t] == s.row_pos[last] + 1) {
        ++b.n;
        continue;
      }
    }
    blocks.push_back({t, 1});
  }
  // Later blocks attend more keys: handing them out first lets the pool's dynamic chunks
  // even out the causal triangle instead of leaving the last chunk's thread alone at the end.
  std::stable_sort(blocks.begin(), blocks.end(), [&](const QueryBlock& a, const QueryBlock& b) {
    return s.row_pos[a.t0 + a.n - 1] > s.row_pos[b.t0 + b.n - 1];
  });

  // Key range of a block: from its first token's window start to its last token.
  auto first_key = [&](const QueryBlock& b) {
    return hp.n_swa > 0 ? std::max<int64_t>(0, s.row_pos[b.t0] - hp.n_swa + 1) : int64_t{0};
  };
  auto end_key = [&](const QueryBlock& b) { return s.row_pos[b.t0 + b.n - 1] + 1; };
  int64_t max_keys = 0;
  for (const QueryBlock& b : blocks) max_keys = std::max(max_keys, end_key(b) - first_key(b));

  // Enough (block, KV head) pairs keep every thread busy; otherwise (decode) each pair's keys
  // are split into chunks too, merged below.
  const auto n_blocks = static_cast<int64_t>(blocks.size());
  const int64_t pairs = n_blocks * n_kv;
  int64_t n_chunks = 1;
  if (pairs < 2 * threads) {
    const int64_t wanted = (2 * threads + pairs - 1) / pairs;
    n_chunks = std::clamp<int64_t>(max_keys / kMinChunkKeys, 1, wanted);
  }
  const int64_t n_items = pairs * n_chunks;
  // Per (token, KV head, chunk) when chunked: m and l for each head of the group, then
  // group x hd accumulators.
  const int64_t item_floats = group * (2 + hd);
  if (n_chunks > 1)
    s.attn_partial.resize(static_cast<size_t>(n_tokens * n_kv * n_chunks * item_floats));
  float* partial = s.attn_partial.data();

  auto run = [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> work;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t chunk = item % n_chunks;
      const int64_t pair = item / n_chunks;
      const QueryBlock& b = blocks[pair / n_kv];
      const int64_t g = pair % n_kv;
      const KvCache& cache = *seqs[s.row_seq[b.t0]].cache;
      const int64_t first = first_key(b);
      const int64_t per_chunk = (end_key(b) - first + n_chunks - 1) / n_chunks;
      const int64_t k_begin = std::min(end_key(b), first + chunk * per_chunk);
      const int64_t k_end = std::min(end_key(b), k_begin + per_chunk);
      const size_t need = tile_work_floats(b.n * group, hd);
      if (work.size() < need) work.resize(need);
      TileSpan span{.k = cache.k_head(layer, g),
                    .v = cache.v_head(layer, g),
                    .row_bytes = cache.head_row_bytes(),
                    .key_base = cache.layer_base(layer),
                    .type = cache.type(),
                    .q = s.q.data() + b.t0 * q_dim + g * group * hd,
                    .q_stride = q_dim,
                    .n_tok = b.n,
                    .group = group,
                    .hd = hd,
                    .pos0 = s.row_pos[b.t0],
                    .begin = k_begin,
                    .end = k_end,
                    .n_swa = hp.n_swa,
                    .scale = scale,
                    .work = work.data()};
      if (n_chunks == 1) {
        span.out = out + b.t0 * q_dim + g * group * hd;
        span.out_stride = q_dim;
      } else {
        span.state = partial + ((b.t0 * n_kv + g) * n_chunks + chunk) * item_floats;
        span.state_stride = n_kv * n_chunks * item_floats;
      }
      attend(span);
    }
  };
  if (pool && threads > 1 && n_items > 1) {
    pool->parallel_for(n_items, 1, run);
  } else {
    run(0, n_items);
  }
  if (n_chunks == 1) return;

  // Merge the chunks of each (token, KV head) pair and normalize.
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t g = 0; g < n_kv; ++g) {
      const float* chunks = partial + (t * n_kv + g) * n_chunks * item_floats;
      for (int64_t h = 0; h < group; ++h) {
        float m_all = -INFINITY;
        for (int64_t c = 0; c < n_chunks; ++c) m_all = std::max(m_all, chunks[c * item_floats + h]);
        float* oh = out + t * q_dim + (g * group + h) * hd;
        std::fill(oh, oh + hd, 0.0f);
        float l_all = 0;
        for (int64_t c = 0; c < n_chunks; ++c) {
          const float* m = chunks + c * item_floats;
          if (m[h] == -INFINITY) continue;  // nothing visible in this chunk
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
}

}  // namespace attention_detail

void attention(const HyperParams& hp, std::span<const SequenceBatch> seqs, int64_t layer,
               ForwardScratch& s, float* out, ThreadPool* pool) {
  attention_detail::attention_with_kernels(active_kernels(), hp, seqs, layer, s, out, pool);
}

}  // namespace hearth::models
