// AVX2 and AVX-512 instances of the attention inner loop (attend_keys.inc), only called
// after cpu.h confirmed the extensions. Standard headers come before the target pragmas so
// no library code is compiled for the wider instruction sets.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/models/attention.h"
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

namespace hearth::models::attention_detail {
namespace avx2 {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

const float* load_row(KvCacheType type, const uint8_t* row, int64_t n, float* out) {
  switch (type) {
    case KvCacheType::kF32: return reinterpret_cast<const float*>(row);
    case KvCacheType::kF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(row);
      int64_t i = 0;
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
      for (; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
      return out;
    }
    case KvCacheType::kQ8_0: {
      const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
      for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
        const __m256 d = _mm256_set1_ps(fp16_to_fp32(blocks[b].d));
        for (int i = 0; i < kLegacyBlock; i += 8) {
          const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blocks[b].qs + i));
          const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
          _mm256_storeu_ps(out + b * kLegacyBlock + i, _mm256_mul_ps(d, q));
        }
      }
      return out;
    }
  }
  return out;
}

float dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float sum = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy(float* y, float a, const float* x, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

#include "engine/models/attend_keys.inc"

}  // namespace
}  // namespace avx2

void attend_avx2(const KeySpan& span) {
  avx2::attend_keys(span);
}

}  // namespace hearth::models::attention_detail

#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
// GCC 12's AVX-512 conversion intrinsics start from _mm512_undefined_* and trip a false
// -Wmaybe-uninitialized once inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace hearth::models::attention_detail {
namespace avx512 {
namespace {

const float* load_row(KvCacheType type, const uint8_t* row, int64_t n, float* out) {
  switch (type) {
    case KvCacheType::kF32: return reinterpret_cast<const float*>(row);
    case KvCacheType::kF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(row);
      int64_t i = 0;
      for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
      for (; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
      return out;
    }
    case KvCacheType::kQ8_0: {
      const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
      for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
        const __m512 d = _mm512_set1_ps(fp16_to_fp32(blocks[b].d));
        for (int i = 0; i < kLegacyBlock; i += 16) {
          const __m128i q8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks[b].qs + i));
          const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8));
          _mm512_storeu_ps(out + b * kLegacyBlock + i, _mm512_mul_ps(d, q));
        }
      }
      return out;
    }
  }
  return out;
}

float dot(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {  // masked tail: head dims such as 72 or 80
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i), acc1);
  }
  // Halves by hand: GCC 12's _mm512_reduce_add_ps trips -Wmaybe-uninitialized.
  const __m512 sum = _mm512_add_ps(acc0, acc1);
  const __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sum), 1));
  return avx2::hsum(_mm256_add_ps(_mm512_castps512_ps256(sum), high));
}

void axpy(float* y, float a, const float* x, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, mask,
                          _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(mask, x + i), _mm512_maskz_loadu_ps(mask, y + i)));
  }
}

#include "engine/models/attend_keys.inc"

}  // namespace
}  // namespace avx512

void attend_avx512(const KeySpan& span) {
  avx512::attend_keys(span);
}

}  // namespace hearth::models::attention_detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

#else  // not x86-64: the scalar loop serves every level

namespace hearth::models::attention_detail {
void attend_avx2(const KeySpan& span) { attend_scalar(span); }
void attend_avx512(const KeySpan& span) { attend_scalar(span); }
}  // namespace hearth::models::attention_detail

#endif
