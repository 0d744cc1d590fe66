// Vectorized exp for AVX2 and AVX-512, for softmax-style loops that would otherwise call
// libm's scalar expf once per element.
//
// Cody-Waite range reduction x = n ln2 + r (|r| <= ln2/2, ln2 split in two so n ln2 is
// exact), a degree-7 minimax-style polynomial for e^r and the exponent added as integer
// bits: within 2 ulp of the correctly rounded result for x in [-87.33, 88.72]. Below
// ln(FLT_MIN) the result is 0 (no subnormals; softmax weights that small do not matter),
// including for -inf, which is what masked scores are; above ln(FLT_MAX) it is +inf, and
// NaN stays NaN.
//
// The functions carry their own target attributes, so this header can be included anywhere;
// call them only from code compiled for (a superset of) that target after the chosen kernel table
// (kernel_table.h) confirmed the extensions.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

namespace hearth::vec_math {

inline constexpr float kExpMinArg = -87.33654f;    // ~ln(FLT_MIN): smallest normal result
inline constexpr float kExpMaxArg = 88.72283935f;  // ~ln(FLT_MAX)
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;  // few mantissa bits: n * kLn2Hi is exact
inline constexpr float kLn2Lo = -2.12194440e-4f;
// e^r ~ 1 + r + r^2 (c2 + c3 r + ... + c7 r^5) on [-ln2/2, ln2/2].
inline constexpr float kExpC2 = 5.0000001201e-1f;
inline constexpr float kExpC3 = 1.6666665459e-1f;
inline constexpr float kExpC4 = 4.1665795894e-2f;
inline constexpr float kExpC5 = 8.3334519073e-3f;
inline constexpr float kExpC6 = 1.3981999507e-3f;
inline constexpr float kExpC7 = 1.9875691500e-4f;

__attribute__((target("avx2,fma"), always_inline)) inline __m256 exp_avx2(__m256 x) {
  const __m256 xc =
      _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpMinArg)), _mm256_set1_ps(kExpMaxArg));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kExpC7);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC5));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC2));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // n reaches 128 just below ln(FLT_MAX), one past the largest finite exponent: scale in two
  // steps, 2^min(n, 127) and then 2^(n - that), which is 1 or 2.
  const __m256 n1 = _mm256_min_ps(n, _mm256_set1_ps(127.0f));
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n1), bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(_mm256_sub_ps(n, n1)), bias), 23));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(),
                       _mm256_cmp_ps(x, _mm256_set1_ps(kExpMinArg), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()),
                       _mm256_cmp_ps(x, _mm256_set1_ps(kExpMaxArg), _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// Same algorithm as exp_avx2; scalef does the two-step scaling's job in one instruction.
__attribute__((target("avx512f"), always_inline)) inline __m512 exp_avx512(__m512 x) {
  const __m512 xc =
      _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kExpMinArg)), _mm512_set1_ps(kExpMaxArg));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpC7);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC5));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC2));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  __m512 y = _mm512_scalef_ps(p, n);
  y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpMinArg), _CMP_LT_OQ), y,
                           _mm512_setzero_ps());
  y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpMaxArg), _CMP_GT_OQ), y,
                           _mm512_set1_ps(__builtin_inff()));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
}

}  // namespace hearth::vec_math

#endif
