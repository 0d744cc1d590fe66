// WebAssembly SIMD128 row dots for Q8_0, Q4_0 and Q6_K weights, and the "wasm_simd128" kernel table
// (built only when compiling for wasm with -msimd128; empty elsewhere).
//
// The integer block sums are the scalar kernel's exactly: int8 values widened to int16 and
// multiplied pairwise into int32 lanes (i32x4.dot_i16x8_s) cannot overflow for 32-element
// blocks, and the per-block float arithmetic is the scalar kernel's expression in the same
// order, so the results are bit-identical to quant_dot_scalar.cpp's. Everything else (other
// types, element-wise work, attention) comes from the portable table.
#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include "engine/kernels/activation.h"
#include "engine/kernels/attention_tile.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/quant_dot.h"
#include "engine/kernels/vector_ops.h"
#include "engine/tensor/fp16.h"

namespace hearth {
namespace {

const BlockQ8Act& act_block(const void* act, size_t stride, int t, int64_t b) {
  const auto* row = reinterpret_cast<const BlockQ8Act*>(static_cast<const uint8_t*>(act) +
                                                        stride * static_cast<size_t>(t));
  return row[b];
}

// Sum over 16 lanes of w (int16 pairs from int8) times a, as int32x4 partial sums.
inline v128_t dot16_s8(v128_t w8, v128_t a8) {
  const v128_t lo =
      wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w8), wasm_i16x8_extend_low_i8x16(a8));
  const v128_t hi =
      wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w8), wasm_i16x8_extend_high_i8x16(a8));
  return wasm_i32x4_add(lo, hi);
}

// The same for unsigned weight codes (0..15).
inline v128_t dot16_u8(v128_t w8, v128_t a8) {
  const v128_t lo =
      wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(w8), wasm_i16x8_extend_low_i8x16(a8));
  const v128_t hi =
      wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(w8), wasm_i16x8_extend_high_i8x16(a8));
  return wasm_i32x4_add(lo, hi);
}

inline int32_t horizontal_sum(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
         wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

void row_dot_q8_0_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                          int n_act, float* out) {
  const auto* w = static_cast<const BlockQ8_0*>(weight_row);
  float acc[kMaxTokenTile] = {};
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const float dw = fp16_to_fp32(w[b].d);
    const v128_t w0 = wasm_v128_load(w[b].qs);
    const v128_t w1 = wasm_v128_load(w[b].qs + 16);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act& a = act_block(act, stride, t, b);
      const v128_t sum = wasm_i32x4_add(dot16_s8(w0, wasm_v128_load(a.qs)),
                                        dot16_s8(w1, wasm_v128_load(a.qs + 16)));
      acc[t] += dw * a.d * static_cast<float>(horizontal_sum(sum));
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

// Q4_0: codes are the low nibbles (elements 0..15) and high nibbles (16..31), offset 8
// applied through the activation block's ds, as in the scalar kernel.
void row_dot_q4_0_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                          int n_act, float* out) {
  const auto* w = static_cast<const BlockQ4_0*>(weight_row);
  float acc[kMaxTokenTile] = {};
  const v128_t low_mask = wasm_i8x16_splat(0x0F);
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const v128_t packed = wasm_v128_load(w[b].qs);
    const v128_t lo = wasm_v128_and(packed, low_mask);
    const v128_t hi = wasm_u8x16_shr(packed, 4);
    const float dw = fp16_to_fp32(w[b].d);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act& a = act_block(act, stride, t, b);
      const v128_t sum = wasm_i32x4_add(dot16_u8(lo, wasm_v128_load(a.qs)),
                                        dot16_u8(hi, wasm_v128_load(a.qs + 16)));
      const int32_t isum = horizontal_sum(sum);
      // `+ 0.0f * a.ds` is the scalar kernel's min term (zero for Q4_0), kept so that signed
      // zeros and non-finite activations give the same bits.
      acc[t] += dw * (a.d * static_cast<float>(isum) - 8 * a.ds) + 0.0f * a.ds;
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

// Q6_K (the usual type of the output matrix, which dominates small models' generation): the
// 6-bit codes decoded 16 at a time into the scalar kernel's order, then per 16-element
// sub-block the scalar kernel's integer expression.
void row_dot_q6_k_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                          int n_act, float* out) {
  const auto* w = static_cast<const BlockQ6_K*>(weight_row);
  float acc[kMaxTokenTile] = {};
  alignas(16) uint8_t codes[kSuperBlock];
  const v128_t low_mask = wasm_i8x16_splat(0x0F);
  const v128_t high_mask = wasm_i8x16_splat(0x30);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = w[b].ql + half * 64;
      const uint8_t* qh = w[b].qh + half * 32;
      uint8_t* c = codes + half * 128;
      for (int l = 0; l < 32; l += 16) {
        const v128_t ql_a = wasm_v128_load(ql + l);
        const v128_t ql_b = wasm_v128_load(ql + l + 32);
        const v128_t h = wasm_v128_load(qh + l);
        // Bits 2k..2k+1 of qh become bits 4..5 of the code.
        const v128_t h0 = wasm_v128_and(wasm_i8x16_shl(h, 4), high_mask);
        const v128_t h1 = wasm_v128_and(wasm_i8x16_shl(h, 2), high_mask);
        const v128_t h2 = wasm_v128_and(h, high_mask);
        const v128_t h3 = wasm_v128_and(wasm_u8x16_shr(h, 2), high_mask);
        wasm_v128_store(c + l, wasm_v128_or(wasm_v128_and(ql_a, low_mask), h0));
        wasm_v128_store(c + l + 32, wasm_v128_or(wasm_v128_and(ql_b, low_mask), h1));
        wasm_v128_store(c + l + 64, wasm_v128_or(wasm_u8x16_shr(ql_a, 4), h2));
        wasm_v128_store(c + l + 96, wasm_v128_or(wasm_u8x16_shr(ql_b, 4), h3));
      }
    }
    const float dw = fp16_to_fp32(w[b].d);
    for (int t = 0; t < n_act; ++t) {
      const auto* row = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(act) +
                                                           stride * static_cast<size_t>(t));
      const BlockQ8_K& a = row[b];
      int32_t isum = 0;
      for (int j = 0; j < 16; ++j) {
        const int32_t dot =
            horizontal_sum(dot16_u8(wasm_v128_load(codes + 16 * j), wasm_v128_load(a.qs + 16 * j)));
        isum += w[b].scales[j] * (dot - 32 * a.bsums[j]);
      }
      acc[t] += dw * a.d * static_cast<float>(isum);
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

RowDotFn simd128_row_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return row_dot_q8_0_simd128;
    case TensorType::Q4_0: return row_dot_q4_0_simd128;
    case TensorType::Q6_K: return row_dot_q6_k_simd128;
    default: return nullptr;
  }
}

}  // namespace

const KernelTable kWasmSimd128Kernels = {
    .name = "wasm_simd128",
    .required = {},
    .fallback = &kPortableKernels,
    .row_dot = simd128_row_dot,
    .quantize_activation_row = quantize_activation_row,
    .interleaved_dot = scalar_interleaved_dot,
    .swiglu = swiglu_portable,
    .copy_finite = copy_finite_portable,
    .max_value = max_value_portable,
    .exp_shifted = exp_shifted_portable,
    .attend_tile = attn::attend_tile_scalar,
};

}  // namespace hearth

#endif  // __wasm_simd128__
