// AVX-512 level: the integer kernels use AVX512-VNNI (vpdpbusd on 256-bit vectors, which
// fuses the multiply and both additions of the AVX2 sequence); float weights use 512-bit FMA.
// Only called when the avx512 kernel table (at the end) or one falling back to it was chosen.
// See quant_dot_avx2.cpp for why the standard headers come before the pragma.
#include <cstdint>
#include <cstring>

#include "engine/kernels/activation.h"
#include "engine/kernels/attention_tile.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/quant_dot.h"
#include "engine/kernels/vector_ops.h"

#if defined(__x86_64__)
#include "engine/kernels/avx512_begin.inc"

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

// One block of `count` (a multiple of 16) activations to 8-bit codes with the scalar
// quantizers' exact operations: d = absmax / 127, q = clamp(nearbyint(x * (127 / absmax))).
// Returns d; `sums` gets the sum of each 16 codes.
float quantize_block(const float* x, int count, int8_t* codes, int32_t* sums) {
  __m512 absmax_v = _mm512_setzero_ps();
  for (int i = 0; i < count; i += 16) {
    absmax_v = _mm512_max_ps(absmax_v, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  }
  const float absmax = _mm512_reduce_max_ps(absmax_v);
  const __m512 inverse = _mm512_set1_ps(absmax > 0.0f ? 127.0f / absmax : 0.0f);
  const __m512i lo = _mm512_set1_epi32(-127);
  const __m512i hi = _mm512_set1_epi32(127);
  for (int i = 0; i < count; i += 16) {
    const __m512 rounded = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), inverse),
                                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i q = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(rounded), lo), hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i), _mm512_cvtepi32_epi8(q));
    sums[i / 16] = _mm512_reduce_add_epi32(q);
  }
  return absmax / 127.0f;
}

// Sums of the 8 lanes of each of v[0..3], in lanes 0..3.
inline __m128 reduce4(const __m256* v) {
  const __m256 pairs = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  return _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1));
}

// Q8_0 (file layout) for NT tokens against 4 consecutive rows: each token's activation block
// is loaded once for the 4 rows, the block scale product is one vector multiply of a
// broadcast weight scale by a broadcast activation scale, and the 4 rows' horizontal sums
// share one reduction per token.
template <int NT>
void q8_0_rows4(int64_t n, const uint8_t* rows, int64_t row_stride, const uint8_t* act,
                size_t act_stride, float* out, int64_t out_stride) {
  constexpr int R = 4;
  const BlockQ8Act* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = act_row<BlockQ8Act>(act, act_stride, t);
  const BlockQ8_0* w[R];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(rows + r * row_stride);
  __m256 acc[R][NT];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    __m256i codes[NT];
    __m256 act_scale[NT];
    for (int t = 0; t < NT; ++t) {
      codes[t] = load_bytes(a[t][b].qs);
      act_scale[t] = _mm256_broadcast_ss(&a[t][b].d);
    }
    for (int r = 0; r < R; ++r) {
      // Four rows side by side are four short streams the hardware prefetcher loses from
      // DRAM (2x slower without this): request the same place 8 rows (2 calls) ahead.
      _mm_prefetch(reinterpret_cast<const char*>(&w[r][b]) + 8 * row_stride, _MM_HINT_T0);
      const __m256i wq = load_bytes(w[r][b].qs);
      const __m256i magnitude = _mm256_abs_epi8(wq);
      const __m256 dw = _mm256_set1_ps(half_to_float(w[r][b].d));
      for (int t = 0; t < NT; ++t) {
        const __m256i sums =
            _mm256_dpbusd_epi32(_mm256_setzero_si256(), magnitude, _mm256_sign_epi8(codes[t], wq));
        acc[r][t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(dw, act_scale[t]), acc[r][t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) {
    __m256 per_row[R];
    for (int r = 0; r < R; ++r) per_row[r] = acc[r][t];
    _mm_storeu_ps(out + t * out_stride, reduce4(per_row));
  }
}

}  // namespace

void avx512_q8_0_dot_4rows(int64_t n, const void* rows, int64_t row_stride, const void* act,
                           size_t act_stride, int n_act, float* out, int64_t out_stride) {
  const auto* w = static_cast<const uint8_t*>(rows);
  const auto* a = static_cast<const uint8_t*>(act);
  switch (n_act) {
    case 1: return q8_0_rows4<1>(n, w, row_stride, a, act_stride, out, out_stride);
    case 2: return q8_0_rows4<2>(n, w, row_stride, a, act_stride, out, out_stride);
    case 3: return q8_0_rows4<3>(n, w, row_stride, a, act_stride, out, out_stride);
    default: return q8_0_rows4<4>(n, w, row_stride, a, act_stride, out, out_stride);
  }
}

RowDot4Fn avx512_row_dot_4rows(TensorType weight_type) {
  return weight_type == TensorType::Q8_0 ? avx512_q8_0_dot_4rows : nullptr;
}

void avx512_quantize_activation_row(ActivationFormat format, const float* x, void* dst, int64_t n) {
  int32_t sums[kSuperBlock / 16];
  if (format == ActivationFormat::kQ8) {
    auto* blocks = static_cast<BlockQ8Act*>(dst);
    for (int64_t b = 0; b < n / kLegacyBlock; ++b, x += kLegacyBlock) {
      blocks[b].d = quantize_block(x, kLegacyBlock, blocks[b].qs, sums);
      blocks[b].ds = blocks[b].d * static_cast<float>(sums[0] + sums[1]);
    }
  } else if (format == ActivationFormat::kQ8K) {
    auto* blocks = static_cast<BlockQ8_K*>(dst);
    for (int64_t b = 0; b < n / kSuperBlock; ++b, x += kSuperBlock) {
      blocks[b].d = quantize_block(x, kSuperBlock, blocks[b].qs, sums);
      for (int j = 0; j < kSuperBlock / 16; ++j) blocks[b].bsums[j] = static_cast<int16_t>(sums[j]);
    }
  } else if (format == ActivationFormat::kBF16) {  // vcvtne2ps2bf16 is a level above
    quantize_activation_row(format, x, dst, n);
  } else {
    std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
  }
}

RowDotFn avx512_row_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::F32: return tiled<FloatKernel512<0>>;
    case TensorType::F16: return tiled<FloatKernel512<1>>;
    case TensorType::BF16: return tiled<FloatKernel512<2>>;
    default: return integer_kernel(weight_type);
  }
}

}  // namespace hearth

#include "engine/kernels/avx512_end.inc"

namespace hearth {

// AVX-512 F/BW/VL/VNNI: row dots, the interleaved layout and its dots, the GEMM.
const KernelTable kAvx512Kernels = {
    .name = "avx512",
    .required = {.avx2 = true,
                 .fma = true,
                 .f16c = true,
                 .avx512f = true,
                 .avx512bw = true,
                 .avx512vl = true,
                 .avx512vnni = true},
    .fallback = &kAvx2Kernels,
    .row_dot = avx512_row_dot,
    .quantize_activation_row = avx512_quantize_activation_row,
    .row_dot_4rows = avx512_row_dot_4rows,
    .row_dot_4rows_min_tokens = kAvx512RowDot4MinTokens,
    .interleaved_weights = true,
    .interleaved_dot = avx512_interleaved_dot,
    .gemm = avx512_gemm,
    .gemm_many = avx512_gemm_many,
    .swiglu = swiglu_avx512,
    .copy_finite = copy_finite_avx512,
    .max_value = max_value_avx512,
    .exp_shifted = exp_shifted_avx512,
    .attend_tile = attn::attend_tile_avx512,
};

}  // namespace hearth

#else  // not x86-64: no AVX-512 kernels

namespace hearth {
RowDotFn avx512_row_dot(TensorType) {
  return nullptr;
}
void avx512_quantize_activation_row(ActivationFormat, const float*, void*, int64_t) {}
void avx512_q8_0_dot_4rows(int64_t, const void*, int64_t, const void*, size_t, int, float*,
                           int64_t) {}
RowDot4Fn avx512_row_dot_4rows(TensorType) {
  return nullptr;
}
}  // namespace hearth

#endif
