// Causal GQA self-attention of a batch's queries over their sequences' KV caches.
//
// Flash-attention style tiles with an online (streaming) softmax, so no score array of the
// context's length is kept. A tile is a block of consecutive query tokens of one sequence
// times the query heads that share one KV head (prefill: up to ~112 query rows; decode:
// the group of one token) against blocks of kTileKeys keys. Each key block is converted from
// the cache type (F16 / Q8_0 / F32) to F32 once per tile, keys transposed so that scores
// come out of FMAs with the keys in the vector lanes (no horizontal sum per key), and the
// exponentials are vectorized. Work is split over (query block, KV head) pairs and, when
// those are too few to occupy the threads (single-token decode), over chunks of the keys
// whose partial results are merged afterwards. SIMD at the level that active_kernel_level()
// allows, with a scalar fallback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/kernels/cpu.h"
#include "engine/models/forward.h"

namespace hearth::models {

// Row t of `s.q` (rotated queries, n_head x head_dim) attends positions [0, s.row_pos[t]]
// (or the sliding window's part of them) of the cache of sequence s.row_seq[t], whose rows
// for this batch are already written. Writes n_tokens x q_dim floats to `out`.
void attention(const HyperParams& hp, std::span<const SequenceBatch> seqs, int64_t layer,
               ForwardScratch& s, float* out, ThreadPool* pool);

namespace attention_detail {

// attention() with the kernels of `level` (tests compare every level the CPU has).
void attention_at(KernelLevel level, const HyperParams& hp, std::span<const SequenceBatch> seqs,
                  int64_t layer, ForwardScratch& s, float* out, ThreadPool* pool);

inline constexpr int64_t kTileKeys = 64;  // keys converted and scored per step
inline constexpr int64_t kMaxLanes = 16;  // widest vector; tiles are padded to it

// One tile's job: n_tok consecutive tokens of one sequence (token i at position pos0 + i)
// times `group` query heads, over the keys in [begin, end) that each row may see: keys
// at or before its position and, with a sliding window (n_swa > 0), after position - n_swa.
struct TileSpan {
  const uint8_t* k = nullptr;  // key row of position 0, offset to this KV head
  const uint8_t* v = nullptr;
  size_t row_bytes = 0;
  KvCacheType type = KvCacheType::kF16;
  const float* q = nullptr;  // token 0's first query head of the group; heads contiguous
  int64_t q_stride = 0;      // floats from one token's queries to the next token's
  int64_t n_tok = 1;
  int64_t group = 1;
  int64_t hd = 0;
  int64_t pos0 = 0;
  int64_t begin = 0;
  int64_t end = 0;
  int64_t n_swa = 0;
  float scale = 1;
  // With `out`: the normalized result of token i, head h at out + i * out_stride + h * hd.
  // Otherwise the unnormalized softmax state of token i at state + i * state_stride:
  // running max m[group], sum l[group], then group x hd weighted sums of the values.
  float* out = nullptr;
  int64_t out_stride = 0;
  float* state = nullptr;
  int64_t state_stride = 0;
  float* work = nullptr;  // tile_work_floats(n_tok * group, hd) floats
};

// Where a tile's scratch arrays lie in `work`, in floats from its first 64-byte boundary.
// Row-major arrays are padded to kMaxLanes columns so every level can use whole vectors.
struct TileLayout {
  int64_t hdp = 0;          // hd rounded up to kMaxLanes
  int64_t rows_padded = 0;  // rows rounded up to kMaxLanes
  size_t qs = 0;            // rows x hd, the scaled queries
  size_t kr = 0;            // kTileKeys x hdp, keys as F32
  size_t kt = 0;            // hdp x kTileKeys, the same transposed
  size_t vr = 0;            // kTileKeys x hdp, values as F32
  size_t s = 0;             // rows x kTileKeys, scores and then weights
  size_t acc = 0;           // rows x hdp
  // rows_padded each: running max and sum, the max subtracted, rescale factor, block max
  size_t m = 0, l = 0, m_use = 0, corr = 0, bmax = 0;
  size_t total = 0;

  TileLayout(int64_t rows, int64_t hd) {
    auto round = [](int64_t n) { return (n + kMaxLanes - 1) / kMaxLanes * kMaxLanes; };
    hdp = round(hd);
    rows_padded = round(rows);
    size_t at = 0;
    auto take = [&](int64_t n) {
      const size_t start = at;
      at += static_cast<size_t>(round(n));
      return start;
    };
    qs = take(rows * hd);
    kr = take(kTileKeys * hdp);
    kt = take(hdp * kTileKeys);
    vr = take(kTileKeys * hdp);
    s = take(rows * kTileKeys);
    m = take(rows_padded);
    l = take(rows_padded);
    m_use = take(rows_padded);
    corr = take(rows_padded);
    bmax = take(rows_padded);
    acc = take(rows * hdp);
    total = at;
  }
};

// TileLayout's total plus room to align the start.
inline size_t tile_work_floats(int64_t rows, int64_t hd) {
  return TileLayout(rows, hd).total + kMaxLanes;
}

void attend_tile_scalar(const TileSpan& span);
void attend_tile_avx2(const TileSpan& span);
void attend_tile_avx512(const TileSpan& span);

}  // namespace attention_detail
}  // namespace hearth::models
