// The WebAssembly SIMD128 instance of the attention tile (attention_tile.inc): four-lane F32
// vectors, exp from simd128_math.h. Built only for wasm with -msimd128.
#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/kernels/attention_tile.h"
#include "engine/kernels/simd128_math.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth::attn {
namespace simd128_tile {
namespace {

using Vec = v128_t;
constexpr int64_t kW = 4;
// V8 gives wasm 16 vector registers on x86: 8 accumulators, the loaded vectors, a broadcast.
constexpr int kScoreRows = 4;
constexpr int kScoreVecs = 2;
constexpr int kPvRows = 4;
constexpr int kPvVecs = 2;

Vec vzero() {
  return wasm_f32x4_splat(0.0f);
}
Vec vset(float x) {
  return wasm_f32x4_splat(x);
}
Vec vload(const float* p) {
  return wasm_v128_load(p);
}
void vstore(float* p, Vec x) {
  wasm_v128_store(p, x);
}
Vec vfma(Vec a, Vec b, Vec c) {
  return wasm_f32x4_add(wasm_f32x4_mul(a, b), c);
}
Vec vadd(Vec a, Vec b) {
  return wasm_f32x4_add(a, b);
}
Vec vmul(Vec a, Vec b) {
  return wasm_f32x4_mul(a, b);
}
Vec vsub(Vec a, Vec b) {
  return wasm_f32x4_sub(a, b);
}
// Scores are finite or -inf (never NaN), so max's NaN rule does not matter here.
Vec vmax(Vec a, Vec b) {
  return wasm_f32x4_max(a, b);
}
Vec vexp(Vec x) {
  return simd128::exp_simd128(x);
}

float hsum(Vec v) {
  const Vec s = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(wasm_f32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2)), 0);
}

float hmax(Vec v) {
  const Vec s = wasm_f32x4_max(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(wasm_f32x4_max(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2)), 0);
}

// Lanes outside [lo, hi) become -inf; lo and hi are clamped to fit the 32-bit lane compare.
Vec mask_outside(Vec x, int64_t lo, int64_t hi) {
  const v128_t idx = wasm_i32x4_make(0, 1, 2, 3);
  const auto lo32 = static_cast<int32_t>(std::clamp<int64_t>(lo, -1, kW + 1));
  const auto hi32 = static_cast<int32_t>(std::clamp<int64_t>(hi, -1, kW + 1));
  const v128_t keep = wasm_v128_and(wasm_i32x4_ge(idx, wasm_i32x4_splat(lo32)),
                                    wasm_i32x4_lt(idx, wasm_i32x4_splat(hi32)));
  return wasm_v128_bitselect(x, wasm_f32x4_splat(-INFINITY), keep);
}

Vec zero_if_neg_inf(Vec x) {
  return wasm_v128_bitselect(wasm_f32x4_splat(0.0f), x,
                             wasm_f32x4_eq(x, wasm_f32x4_splat(-INFINITY)));
}

Vec load_f16(const uint16_t* p) {
  // The four halves go to the top of zeroed lanes: a 64-bit load and one interleave.
  return simd128::widen_f16_top(simd128::f16x8_low_on_top(wasm_v128_load64_zero(p)));
}

// 4 x 4 transpose: interleave rows (0, 1) and (2, 3), then the pairs' halves.
void transpose_rows(Vec (&r)[4], float* dst, int64_t dst_stride) {
  const Vec t0 = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5);
  const Vec t1 = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7);
  const Vec t2 = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5);
  const Vec t3 = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
  wasm_v128_store(dst, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
  wasm_v128_store(dst + dst_stride, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
  wasm_v128_store(dst + 2 * dst_stride, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
  wasm_v128_store(dst + 3 * dst_stride, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
}

template <KvCacheType kType>
void convert_row(const uint8_t* row, int64_t n, float* out) {
  if constexpr (kType == KvCacheType::kF32) {
    std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
  } else if constexpr (kType == KvCacheType::kF16) {
    const auto* h = reinterpret_cast<const uint16_t*>(row);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, load_f16(h + i));
    for (; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
  } else {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
    for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
      const Vec d = wasm_f32x4_splat(fp16_to_fp32(blocks[b].d));
      for (int i = 0; i < kLegacyBlock; i += 8) {
        const v128_t q = wasm_i16x8_load8x8(blocks[b].qs + i);
        const v128_t lo = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(q));
        const v128_t hi = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(q));
        wasm_v128_store(out + b * kLegacyBlock + i, wasm_f32x4_mul(d, lo));
        wasm_v128_store(out + b * kLegacyBlock + i + 4, wasm_f32x4_mul(d, hi));
      }
    }
  }
}

#include "engine/kernels/attention_tile.inc"

}  // namespace
}  // namespace simd128_tile

void attend_tile_simd128(const TileSpan& span) {
  simd128_tile::attend_tile(span);
}

}  // namespace hearth::attn

#endif  // __wasm_simd128__
