// One attention tile: a block of consecutive query tokens of one sequence times the query
// heads that share one KV head, against a span of that sequence's cached keys and values,
// with an online (streaming) softmax. models/attention.cpp schedules the tiles over a batch;
// the kernels here are one instantiation of attention_tile.inc per instruction set, and the
// kernel table (kernel_table.h) names the one to use.
//
// Thread-safety: a tile only writes its own `out` / `state` rows and its `work` scratch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hearth/model_info.h"  // KvCacheType

namespace hearth::attn {

inline constexpr int64_t kTileKeys = 64;  // keys converted and scored per step
inline constexpr int64_t kMaxLanes = 16;  // widest vector; tiles are padded to it

// One tile's job: n_tok consecutive tokens of one sequence (token i at position pos0 + i)
// times `group` query heads, over the keys in [begin, end) that each row may see: keys
// at or before its position and, with a sliding window (n_swa > 0), after position - n_swa.
struct TileSpan {
  const uint8_t* k = nullptr;  // key row of position `key_base`, offset to this KV head
  const uint8_t* v = nullptr;
  size_t row_bytes = 0;
  // Position of the first row at k / v: a sliding-window layer's cache holds only the latest
  // positions (kv_cache.h). begin must not be below it.
  int64_t key_base = 0;
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
void attend_tile_simd128(const TileSpan& span);  // wasm builds with -msimd128 only

}  // namespace hearth::attn
