// The portable instance of the attention tile (attention_tile.inc): one-lane "vectors".
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/kernels/attention_tile.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth::attn {
namespace scalar {
namespace {

// One-lane "vectors": the tile code is shared with the SIMD levels, and the compiler is free
// to vectorize the plain loops it becomes (it may not reorder sums without -ffast-math).
using Vec = float;
constexpr int64_t kW = 1;
constexpr int kScoreRows = 4;
constexpr int kScoreVecs = 8;
constexpr int kPvRows = 4;
constexpr int kPvVecs = 4;

Vec vzero() {
  return 0.0f;
}
Vec vset(float x) {
  return x;
}
Vec vload(const float* p) {
  return *p;
}
void vstore(float* p, Vec x) {
  *p = x;
}
Vec vfma(Vec a, Vec b, Vec c) {
  return a * b + c;
}
Vec vadd(Vec a, Vec b) {
  return a + b;
}
Vec vmul(Vec a, Vec b) {
  return a * b;
}
Vec vsub(Vec a, Vec b) {
  return a - b;
}
Vec vmax(Vec a, Vec b) {
  return std::max(a, b);
}
Vec vexp(Vec x) {
  return std::exp(x);
}
float hmax(Vec x) {
  return x;
}
float hsum(Vec x) {
  return x;
}
Vec mask_outside(Vec x, int64_t lo, int64_t hi) {
  return lo <= 0 && hi > 0 ? x : -INFINITY;
}
Vec zero_if_neg_inf(Vec x) {
  return x == -INFINITY ? 0.0f : x;
}

void transpose_rows(Vec (&r)[1], float* dst, int64_t) {
  *dst = r[0];
}

Vec load_f16(const uint16_t* p) {
  return fp16_to_fp32(*p);
}

template <KvCacheType kType>
void convert_row(const uint8_t* row, int64_t n, float* out) {
  if constexpr (kType == KvCacheType::kF32) {
    std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
  } else if constexpr (kType == KvCacheType::kF16) {
    const auto* h = reinterpret_cast<const uint16_t*>(row);
    for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
  } else {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
    for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
      const float d = fp16_to_fp32(blocks[b].d);
      for (int i = 0; i < kLegacyBlock; ++i) out[b * kLegacyBlock + i] = d * blocks[b].qs[i];
    }
  }
}

#include "engine/kernels/attention_tile.inc"

}  // namespace
}  // namespace scalar

void attend_tile_scalar(const TileSpan& span) {
  scalar::attend_tile(span);
}

}  // namespace hearth::attn
