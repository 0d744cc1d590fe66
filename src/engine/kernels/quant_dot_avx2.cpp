// AVX2 + FMA + F16C kernels, only called when their kernel table (at the end) was chosen.
// Standard headers come before the target pragma so no library code is compiled for AVX2;
// everything after it has internal linkage except the table lookup.
#include <cstdint>
#include <cstring>

#include "engine/kernels/activation.h"
#include "engine/kernels/attention_tile.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_dot.h"
#include "engine/kernels/vector_ops.h"

#if defined(__x86_64__)
#include "engine/kernels/avx2_begin.inc"

namespace hearth {
namespace {

#define HEARTH_DOT_U8S8(u, s) \
  _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#include "engine/kernels/quant_dot_x86.inc"
#undef HEARTH_DOT_U8S8

// F32 / F16 / BF16 weights against F32 activations: widen 8 weights, one FMA per token.
template <int kFormat>  // 0: F32, 1: F16, 2: BF16
struct FloatKernel {
  static __m256 load8(const void* row, int64_t k) {
    if constexpr (kFormat == 0) {
      return _mm256_loadu_ps(static_cast<const float*>(row) + k);
    } else {
      const __m128i h =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + k));
      if constexpr (kFormat == 1) return _mm256_cvtph_ps(h);
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
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
    __m256 acc0[NT], acc1[NT];  // two chains per token hide the FMA latency
    for (int t = 0; t < NT; ++t) {
      a[t] = act_row<float>(act, stride, t);
      acc0[t] = _mm256_setzero_ps();
      acc1[t] = _mm256_setzero_ps();
    }
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
      const __m256 w0 = load8(weight_row, k);
      const __m256 w1 = load8(weight_row, k + 8);
      for (int t = 0; t < NT; ++t) {
        acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(a[t] + k), acc0[t]);
        acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(a[t] + k + 8), acc1[t]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      float sum = horizontal_sum(_mm256_add_ps(acc0[t], acc1[t]));
      for (int64_t i = k; i < n; ++i) sum += scalar(weight_row, i) * a[t][i];
      out[t] = sum;
    }
  }
};

}  // namespace

RowDotFn avx2_row_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::F32: return tiled<FloatKernel<0>>;
    case TensorType::F16: return tiled<FloatKernel<1>>;
    case TensorType::BF16: return tiled<FloatKernel<2>>;
    default: return integer_kernel(weight_type);
  }
}

}  // namespace hearth

#include "engine/kernels/avx2_end.inc"

namespace hearth {
namespace {

// The AVX2 GEMM only reads the file's layout, and pays from kAvx2GemmMinTokens on.
bool avx2_gemm_when_it_pays(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                            ThreadPool* pool) {
  return w.layout == WeightLayout::kGguf && n_tokens >= kAvx2GemmMinTokens &&
         avx2_gemm(w, in, n_tokens, out, pool);
}

}  // namespace

const KernelTable kAvx2Kernels = {
    .name = "avx2",
    .required = {.avx2 = true, .fma = true, .f16c = true},
    .fallback = &kPortableKernels,
    .row_dot = avx2_row_dot,
    .quantize_activation_row = quantize_activation_row,
    .gemm = avx2_gemm_when_it_pays,
    .swiglu = swiglu_avx2,
    .copy_finite = copy_finite_portable,
    .max_value = max_value_portable,
    .exp_shifted = exp_shifted_portable,
    .attend_tile = attn::attend_tile_avx2,
};

}  // namespace hearth

#else  // not x86-64: no AVX2 kernels

namespace hearth {
RowDotFn avx2_row_dot(TensorType) {
  return nullptr;
}
}  // namespace hearth

#endif
