// AVX512-BF16 level, row dots: BF16 weights against activations converted to BF16 once per
// matmul call. One vdpbf16ps multiplies 32 weight/activation pairs and adds them into 16 F32
// lanes, twice the products of an F32 FMA on widened weights, from half the activation bytes.
// Only called when the avx512bf16 kernel table (at the end) or one falling back to it was
// chosen. Standard headers come before the target region, as in quant_dot_avx2.cpp.
#include <cstdint>

#include "engine/kernels/activation.h"
#include "engine/kernels/attention_tile.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/quant_dot.h"
#include "engine/kernels/vector_ops.h"

#if defined(__x86_64__)
#include "engine/kernels/avx512bf16_begin.inc"

namespace hearth {
namespace {

inline __m512bh as_bf16(__m512i v) {
  return (__m512bh)v;  // NOLINT: a vector reinterpretation, no conversion
}

inline __m512bh load32(const uint16_t* p) {
  return as_bf16(_mm512_loadu_si512(p));
}

// The first `count` (< 32) elements, zeros after: zero weights and activations add nothing,
// and reading no further keeps the load inside the row.
inline __m512bh load_partial(const uint16_t* p, int64_t count) {
  const auto mask = static_cast<__mmask32>((uint64_t{1} << count) - 1);
  return as_bf16(_mm512_maskz_loadu_epi16(mask, p));
}

// Independent accumulator chains per token, so a lone token (decode) is not bound by the
// latency of one chain of vdpbf16ps.
template <int NT>
inline constexpr int kChains = NT == 1 ? 4 : (NT == 2 ? 2 : 1);

template <int NT>
void bf16_dot(int64_t n, const void* weight_row, const void* act, size_t stride, float* out) {
  constexpr int C = kChains<NT>;
  const auto* w = static_cast<const uint16_t*>(weight_row);
  const uint16_t* a[NT];
  __m512 acc[C][NT];
  for (int t = 0; t < NT; ++t) {
    a[t] = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(act) +
                                             stride * static_cast<size_t>(t));
    for (int c = 0; c < C; ++c) acc[c][t] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 32 * C <= n; k += 32 * C) {
    for (int c = 0; c < C; ++c) {
      const __m512bh wv = load32(w + k + 32 * c);
      for (int t = 0; t < NT; ++t) {
        acc[c][t] = _mm512_dpbf16_ps(acc[c][t], wv, load32(a[t] + k + 32 * c));
      }
    }
  }
  for (; k + 32 <= n; k += 32) {
    const __m512bh wv = load32(w + k);
    for (int t = 0; t < NT; ++t) acc[0][t] = _mm512_dpbf16_ps(acc[0][t], wv, load32(a[t] + k));
  }
  if (k < n) {
    const __m512bh wv = load_partial(w + k, n - k);
    for (int t = 0; t < NT; ++t) {
      acc[0][t] = _mm512_dpbf16_ps(acc[0][t], wv, load_partial(a[t] + k, n - k));
    }
  }
  for (int t = 0; t < NT; ++t) {
    __m512 total = acc[0][t];
    for (int c = 1; c < C; ++c) total = _mm512_add_ps(total, acc[c][t]);
    out[t] = _mm512_reduce_add_ps(total);
  }
}

void bf16_row_dot(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
                  float* out) {
  switch (n_act) {
    case 1: return bf16_dot<1>(n, weight_row, act, stride, out);
    case 2: return bf16_dot<2>(n, weight_row, act, stride, out);
    case 3: return bf16_dot<3>(n, weight_row, act, stride, out);
    default: return bf16_dot<4>(n, weight_row, act, stride, out);
  }
}

}  // namespace

void avx512bf16_convert_row(const float* x, uint16_t* dst, int64_t n) {
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    // The second operand fills the low half of the result.
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
    _mm512_storeu_si512(dst + k, (__m512i)v);  // NOLINT: reinterpretation
  }
  for (; k < n; k += 16) {
    const auto mask = static_cast<__mmask16>(n - k >= 16 ? 0xFFFF : (1u << (n - k)) - 1);
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + k));
    _mm256_mask_storeu_epi16(dst + k, mask, (__m256i)v);  // NOLINT: reinterpretation
  }
}

RowDotFn avx512bf16_row_dot(TensorType weight_type) {
  return weight_type == TensorType::BF16 ? bf16_row_dot : nullptr;
}

}  // namespace hearth

#include "engine/kernels/avx512_end.inc"

namespace hearth {

void avx512bf16_quantize_activation_row(ActivationFormat format, const float* x, void* dst,
                                        int64_t n) {
  if (format == ActivationFormat::kBF16) {
    avx512bf16_convert_row(x, static_cast<uint16_t*>(dst), n);
    return;
  }
  avx512_quantize_activation_row(format, x, dst, n);
}

namespace {

// BF16 weights in the file's layout go to the BF16 GEMM; everything else as at AVX-512.
bool avx512bf16_gemm_first(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                           ThreadPool* pool) {
  return avx512bf16_gemm(w, in, n_tokens, out, pool) ||
         kAvx512Kernels.gemm(w, in, n_tokens, out, pool);
}

}  // namespace

// The AVX-512 table plus BF16 activations for BF16 weights (row dots and GEMM); the rest,
// attention included, is AVX-512's.
const KernelTable kAvx512Bf16Kernels = {
    .name = "avx512bf16",
    .required = {.avx2 = true,
                 .fma = true,
                 .f16c = true,
                 .avx512f = true,
                 .avx512bw = true,
                 .avx512vl = true,
                 .avx512vnni = true,
                 .avx512bf16 = true},
    .fallback = &kAvx512Kernels,
    .row_dot = avx512bf16_row_dot,
    .bf16_activations = true,
    .quantize_activation_row = avx512bf16_quantize_activation_row,
    .row_dot_4rows = avx512_row_dot_4rows,
    .row_dot_4rows_min_tokens = kAvx512RowDot4MinTokens,
    .interleaved_weights = true,
    .gemm = avx512bf16_gemm_first,
    .gemm_many = avx512_gemm_many,
    .swiglu = swiglu_avx512,
    .copy_finite = copy_finite_avx512,
    .max_value = max_value_avx512,
    .exp_shifted = exp_shifted_avx512,
    .attend_tile = attn::attend_tile_avx512,
};

}  // namespace hearth

#else  // not x86-64: no AVX512-BF16 kernels

namespace hearth {
RowDotFn avx512bf16_row_dot(TensorType) {
  return nullptr;
}
void avx512bf16_convert_row(const float* x, uint16_t* dst, int64_t n) {
  quantize_activation_row(ActivationFormat::kBF16, x, dst, n);
}
}  // namespace hearth

#endif
