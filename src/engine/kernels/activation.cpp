#include "engine/kernels/activation.h"

#include <cmath>

#include "engine/kernels/kernel_table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "engine/kernels/vec_math.h"
#endif

namespace hearth {
namespace {

float silu(float x) {
  return x / (1.0f + std::exp(-x));
}

}  // namespace

void swiglu_portable(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

#if defined(__x86_64__)

// GCC 12's AVX-512 headers start some operations from _mm512_undefined_*(), which trips
// -Wmaybe-uninitialized false positives inside the headers once inlined here.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

__attribute__((target("avx512f,fma"))) void swiglu_avx512(const float* gate, const float* up,
                                                          float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(gate + i);
    const __m512 e = vec_math::exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, e));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
  }
  if (i < n) {
    const auto mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(mask, gate + i);
    const __m512 e = vec_math::exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(out + i, mask, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(mask, up + i)));
  }
}

__attribute__((target("avx2,fma"))) void swiglu_avx2(const float* gate, const float* up, float* out,
                                                     int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(gate + i);
    const __m256 e = vec_math::exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
    const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
  }
  swiglu_portable(gate + i, up + i, out + i, n - i);
}

#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif

void swiglu_in_place(const float* gate, float* up, int64_t n) {
  active_kernels().swiglu(gate, up, up, n);
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  active_kernels().swiglu(gate, up, out, n);
}

}  // namespace hearth
