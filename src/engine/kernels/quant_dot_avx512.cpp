// AVX-512 level: the integer kernels use AVX512-VNNI (vpdpbusd on 256-bit vectors, which
// fuses the multiply and both additions of the AVX2 sequence); float weights use 512-bit FMA.
// Only called after cpu.h confirmed AVX-512 F/BW/VL/VNNI. See quant_dot_avx2.cpp for why the
// standard headers come before the pragma.
#include <cstdint>
#include <cstring>

#include "engine/kernels/quant_dot.h"

#if defined(__x86_64__)
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(                                                      \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), \
    apply_to = function)
#else
#pragma GCC push_options
// GCC 12's AVX-512 headers start some conversions from _mm512_undefined_*(), which trips
// -Wuninitialized false positives inside the headers themselves.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#endif

namespace hearth {
namespace {

#define HEARTH_DOT_U8S8(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
#include "engine/kernels/quant_dot_x86.inc"
#undef HEARTH_DOT_U8S8

template <int kFormat>  // 0: F32, 1: F16, 2: BF16
struct FloatKernel512 {
  static __m512 load16(const void* row, int64_t k) {
    if constexpr (kFormat == 0) {
      return _mm512_loadu_ps(static_cast<const float*>(row) + k);
    } else {
      const __m256i h = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + k));
      if constexpr (kFormat == 1) return _mm512_cvtph_ps(h);
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
  static float scalar(const void* row, int64_t k) {
    if constexpr (kFormat == 0) return static_cast<const float*>(row)[k];
    const uint16_t h = static_cast<const uint16_t*>(row)[k];
    if constexpr (kFormat == 1) return _cvtsh_ss(h);
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  }

  template <int NT>
  static void run(int64_t n, const void* weight_row, const void* act, size_t stride, float* out) {
    const float* a[NT];
    __m512 acc0[NT], acc1[NT];
    for (int t = 0; t < NT; ++t) {
      a[t] = act_row<float>(act, stride, t);
      acc0[t] = _mm512_setzero_ps();
      acc1[t] = _mm512_setzero_ps();
    }
    int64_t k = 0;
    for (; k + 32 <= n; k += 32) {
      const __m512 w0 = load16(weight_row, k);
      const __m512 w1 = load16(weight_row, k + 16);
      for (int t = 0; t < NT; ++t) {
        acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(a[t] + k), acc0[t]);
        acc1[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(a[t] + k + 16), acc1[t]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
      for (int64_t i = k; i < n; ++i) sum += scalar(weight_row, i) * a[t][i];
      out[t] = sum;
    }
  }
};

}  // namespace

RowDotFn avx512_row_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::F32: return tiled<FloatKernel512<0>>;
    case TensorType::F16: return tiled<FloatKernel512<1>>;
    case TensorType::BF16: return tiled<FloatKernel512<2>>;
    default: return integer_kernel(weight_type);
  }
}

}  // namespace hearth

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

#else  // not x86-64: no AVX-512 kernels

namespace hearth {
RowDotFn avx512_row_dot(TensorType) {
  return nullptr;
}
}  // namespace hearth

#endif
