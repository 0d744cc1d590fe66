// AVX2 and AVX-512 instances of the attention tile (attention_tile.inc), only called through
// a kernel table whose features the CPU has. Standard headers come before the target pragmas so no
// library code is compiled for the wider instruction sets.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/kernels/attention_tile.h"
#include "engine/kernels/vec_math.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

#if defined(__x86_64__)
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

namespace hearth::attn {
namespace avx2 {
namespace {

using Vec = __m256;
constexpr int64_t kW = 8;
// 16 registers: 8 accumulators, the loaded vectors and a broadcast.
constexpr int kScoreRows = 4;
constexpr int kScoreVecs = 2;
constexpr int kPvRows = 4;
constexpr int kPvVecs = 2;

Vec vzero() {
  return _mm256_setzero_ps();
}
Vec vset(float x) {
  return _mm256_set1_ps(x);
}
Vec vload(const float* p) {
  return _mm256_loadu_ps(p);
}
void vstore(float* p, Vec x) {
  _mm256_storeu_ps(p, x);
}
Vec vfma(Vec a, Vec b, Vec c) {
  return _mm256_fmadd_ps(a, b, c);
}
Vec vadd(Vec a, Vec b) {
  return _mm256_add_ps(a, b);
}
Vec vmul(Vec a, Vec b) {
  return _mm256_mul_ps(a, b);
}
Vec vsub(Vec a, Vec b) {
  return _mm256_sub_ps(a, b);
}
Vec vmax(Vec a, Vec b) {
  return _mm256_max_ps(a, b);
}
Vec vexp(Vec x) {
  return vec_math::exp_avx2(x);
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// lo and hi are clamped so they fit the 32-bit lane compare.
Vec mask_outside(Vec x, int64_t lo, int64_t hi) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const auto lo32 = static_cast<int>(std::clamp<int64_t>(lo, -1, kW + 1));
  const auto hi32 = static_cast<int>(std::clamp<int64_t>(hi, -1, kW + 1));
  const __m256i keep = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo32 - 1)),
                                        _mm256_cmpgt_epi32(_mm256_set1_epi32(hi32), idx));
  return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, _mm256_castsi256_ps(keep));
}

Vec zero_if_neg_inf(Vec x) {
  return _mm256_blendv_ps(x, _mm256_setzero_ps(),
                          _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
}

// 8 x 8 transpose as three butterflies: the step for bit b swaps bit b of the row and column
// index, i.e. exchanges the off-diagonal b x b blocks of every 2b x 2b block.
Vec load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

void transpose_rows(__m256 (&r)[8], float* dst, int64_t dst_stride) {
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    const __m256 a = r[i], b = r[i + 1];
    r[i] = _mm256_blend_ps(a, _mm256_moveldup_ps(b), 0xAA);
    r[i + 1] = _mm256_blend_ps(_mm256_movehdup_ps(a), b, 0xAA);
  }
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    if (i & 2) continue;
    const __m256 a = r[i], b = r[i + 2];
    r[i] = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 2] = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m256 a = r[i], b = r[i + 4];
    r[i] = _mm256_permute2f128_ps(a, b, 0x20);
    r[i + 4] = _mm256_permute2f128_ps(a, b, 0x31);
  }
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * dst_stride, r[i]);
}

template <KvCacheType kType>
void convert_row(const uint8_t* row, int64_t n, float* out) {
  if constexpr (kType == KvCacheType::kF32) {
    std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
  } else if constexpr (kType == KvCacheType::kF16) {
    const auto* h = reinterpret_cast<const uint16_t*>(row);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(out + i,
                       _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
    for (; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
  } else {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
    for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
      const __m256 d = _mm256_set1_ps(fp16_to_fp32(blocks[b].d));
      for (int i = 0; i < kLegacyBlock; i += 8) {
        const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blocks[b].qs + i));
        const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
        _mm256_storeu_ps(out + b * kLegacyBlock + i, _mm256_mul_ps(d, q));
      }
    }
  }
}

#include "engine/kernels/attention_tile.inc"

}  // namespace
}  // namespace avx2

void attend_tile_avx2(const TileSpan& span) {
  avx2::attend_tile(span);
}

}  // namespace hearth::attn

#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), \
                             apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
// GCC 12's AVX-512 conversion intrinsics start from _mm512_undefined_* and trip a false
// -Wmaybe-uninitialized once inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace hearth::attn {
namespace avx512 {
namespace {

using Vec = __m512;
constexpr int64_t kW = 16;
// 32 registers: 16 accumulators, four loaded vectors and broadcasts.
constexpr int kScoreRows = 4;
constexpr int kScoreVecs = 4;
constexpr int kPvRows = 4;
constexpr int kPvVecs = 4;

Vec vzero() {
  return _mm512_setzero_ps();
}
Vec vset(float x) {
  return _mm512_set1_ps(x);
}
Vec vload(const float* p) {
  return _mm512_loadu_ps(p);
}
void vstore(float* p, Vec x) {
  _mm512_storeu_ps(p, x);
}
Vec vfma(Vec a, Vec b, Vec c) {
  return _mm512_fmadd_ps(a, b, c);
}
Vec vadd(Vec a, Vec b) {
  return _mm512_add_ps(a, b);
}
Vec vmul(Vec a, Vec b) {
  return _mm512_mul_ps(a, b);
}
Vec vsub(Vec a, Vec b) {
  return _mm512_sub_ps(a, b);
}
Vec vmax(Vec a, Vec b) {
  return _mm512_max_ps(a, b);
}
Vec vexp(Vec x) {
  return vec_math::exp_avx512(x);
}

// Halves by hand: GCC 12's _mm512_reduce_*_ps trip -Wmaybe-uninitialized.
__m256 high_half(__m512 v) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}
float hsum(Vec v) {
  return avx2::hsum(_mm256_add_ps(_mm512_castps512_ps256(v), high_half(v)));
}
float hmax(Vec v) {
  return avx2::hmax(_mm256_max_ps(_mm512_castps512_ps256(v), high_half(v)));
}

Vec mask_outside(Vec x, int64_t lo, int64_t hi) {
  const __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const auto lo32 = static_cast<int>(std::clamp<int64_t>(lo, -1, kW + 1));
  const auto hi32 = static_cast<int>(std::clamp<int64_t>(hi, -1, kW + 1));
  const __mmask16 keep = _mm512_cmpge_epi32_mask(idx, _mm512_set1_epi32(lo32)) &
                         _mm512_cmplt_epi32_mask(idx, _mm512_set1_epi32(hi32));
  return _mm512_mask_blend_ps(keep, _mm512_set1_ps(-INFINITY), x);
}

Vec zero_if_neg_inf(Vec x) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ), x,
                              _mm512_setzero_ps());
}

// Index vectors of the butterfly step for bit b (see avx2::transpose_rows): lanes with bit b
// set come from the partner row, at the column with bit b flipped (low) or kept (high).
struct ButterflyIndex {
  alignas(64) int32_t low[16];
  alignas(64) int32_t high[16];
  constexpr explicit ButterflyIndex(int b) : low(), high() {
    for (int c = 0; c < 16; ++c) {
      low[c] = (c & b) ? 16 + (c ^ b) : c;
      high[c] = (c & b) ? 16 + c : (c ^ b);
    }
  }
};
constexpr ButterflyIndex kButterfly[4] = {ButterflyIndex(1), ButterflyIndex(2), ButterflyIndex(4),
                                          ButterflyIndex(8)};

template <int kStep>
void butterfly(__m512 (&r)[16]) {
  constexpr int b = 1 << kStep;
  const __m512i low = _mm512_load_si512(kButterfly[kStep].low);
  const __m512i high = _mm512_load_si512(kButterfly[kStep].high);
  // Unrolled so that r stays in registers.
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    if (i & b) continue;
    const __m512 x = r[i], y = r[i + b];
    r[i] = _mm512_permutex2var_ps(x, low, y);
    r[i + b] = _mm512_permutex2var_ps(x, high, y);
  }
}

Vec load_f16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

void transpose_rows(__m512 (&r)[16], float* dst, int64_t dst_stride) {
  butterfly<0>(r);
  butterfly<1>(r);
  butterfly<2>(r);
  butterfly<3>(r);
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * dst_stride, r[i]);
}

template <KvCacheType kType>
void convert_row(const uint8_t* row, int64_t n, float* out) {
  if constexpr (kType == KvCacheType::kF32) {
    std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
  } else if constexpr (kType == KvCacheType::kF16) {
    const auto* h = reinterpret_cast<const uint16_t*>(row);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
      _mm512_storeu_ps(
          out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
    for (; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
  } else {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
    for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
      const __m512 d = _mm512_set1_ps(fp16_to_fp32(blocks[b].d));
      for (int i = 0; i < kLegacyBlock; i += 16) {
        const __m128i q8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks[b].qs + i));
        const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8));
        _mm512_storeu_ps(out + b * kLegacyBlock + i, _mm512_mul_ps(d, q));
      }
    }
  }
}

#include "engine/kernels/attention_tile.inc"

}  // namespace
}  // namespace avx512

void attend_tile_avx512(const TileSpan& span) {
  avx512::attend_tile(span);
}

}  // namespace hearth::attn

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

#endif
