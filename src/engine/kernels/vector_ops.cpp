#include "engine/kernels/vector_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/kernels/kernel_table.h"

namespace hearth {
namespace {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

}  // namespace
}  // namespace hearth

#if defined(__x86_64__)

#include "engine/kernels/avx512_begin.inc"
#include "engine/kernels/vec_math.h"

namespace hearth {

// The tails avoid std::max and std::isnan: template code instantiated inside this region
// could be the copy the linker keeps for the whole program.
void copy_finite_avx512(const float* in, float* out, int64_t n) {
  const __m512 minus_inf = _mm512_set1_ps(kMinusInf);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(in + i);
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    _mm512_storeu_ps(out + i, _mm512_mask_blend_ps(nan, x, minus_inf));
  }
  for (; i < n; ++i) out[i] = in[i] != in[i] ? kMinusInf : in[i];
}

float max_value_avx512(const float* x, int64_t n) {
  __m512 best = _mm512_set1_ps(kMinusInf);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) best = _mm512_max_ps(best, _mm512_loadu_ps(x + i));
  float result = _mm512_reduce_max_ps(best);
  for (; i < n; ++i) result = x[i] > result ? x[i] : result;
  return result;
}

double exp_shifted_avx512(const float* x, int64_t n, float shift, float scale, float* out) {
  const __m512 shift_v = _mm512_set1_ps(shift);
  const __m512 scale_v = _mm512_set1_ps(scale);
  __m512d sum_low = _mm512_setzero_pd(), sum_high = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = vec_math::exp_avx512(
        _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), shift_v), scale_v));
    _mm512_storeu_ps(out + i, e);
    sum_low = _mm512_add_pd(sum_low, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    sum_high = _mm512_add_pd(
        sum_high,
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  double total = _mm512_reduce_add_pd(_mm512_add_pd(sum_low, sum_high));
  for (; i < n; ++i) {
    out[i] = std::exp((x[i] - shift) * scale);
    total += out[i];
  }
  return total;
}

}  // namespace hearth

#include "engine/kernels/avx512_end.inc"

#endif

namespace hearth {

void copy_finite_portable(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::isnan(in[i]) ? kMinusInf : in[i];
}

float max_value_portable(const float* x, int64_t n) {
  float result = kMinusInf;
  for (int64_t i = 0; i < n; ++i) result = std::max(result, x[i]);
  return result;
}

double exp_shifted_portable(const float* x, int64_t n, float shift, float scale, float* out) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::exp((x[i] - shift) * scale);
    total += out[i];
  }
  return total;
}

void copy_finite(const float* in, float* out, int64_t n) {
  active_kernels().copy_finite(in, out, n);
}

float max_value(const float* x, int64_t n) {
  return active_kernels().max_value(x, n);
}

double exp_shifted(const float* x, int64_t n, float shift, float scale, float* out) {
  return active_kernels().exp_shifted(x, n, shift, scale, out);
}

}  // namespace hearth
