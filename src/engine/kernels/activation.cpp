#include "engine/kernels/activation.h"

#include <cmath>

#include "engine/kernels/cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace hearth {
namespace {

float silu(float x) { return x / (1.0f + std::exp(-x)); }

void swiglu_scalar(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

#if defined(__x86_64__)

// exp(t) as 2^k * p(r), t = k ln2 + r, |r| <= ln2 / 2, p the degree-7 Taylor polynomial
// (truncation error 5e-9 relative, below half an ulp). ln2 is split in two so that r is exact
// to float precision. scalef returns inf past the float range and 0 below it, as std::exp
// does; the clamp only keeps k within what scalef needs.
__attribute__((target("avx512f,fma"))) inline __m512 exp_avx512(__m512 t) {
  t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), t);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}

__attribute__((target("avx512f,fma"))) void swiglu_avx512(const float* gate, const float* up,
                                                          float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(gate + i);
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, e));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
  }
  if (i < n) {
    const auto mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(mask, gate + i);
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(out + i, mask, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(mask, up + i)));
  }
}

#endif

void swiglu_any(const float* gate, const float* up, float* out, int64_t n) {
#if defined(__x86_64__)
  if (active_kernel_level() >= KernelLevel::kAvx512) {
    swiglu_avx512(gate, up, out, n);
    return;
  }
#endif
  swiglu_scalar(gate, up, out, n);
}

}  // namespace

void swiglu_in_place(const float* gate, float* up, int64_t n) { swiglu_any(gate, up, up, n); }

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  swiglu_any(gate, up, out, n);
}

}  // namespace hearth
