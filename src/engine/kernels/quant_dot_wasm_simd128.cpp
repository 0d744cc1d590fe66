// WebAssembly SIMD128 row dots for Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, F16 and F32 weights, and the
// "wasm_simd128" kernel table (built only when compiling for wasm with -msimd128; empty
// elsewhere).
//
// The integer block sums are the scalar kernel's exactly: int8 values widened to int16 and
// multiplied pairwise into int32 lanes (i32x4.dot_i16x8_s) cannot overflow for 32-element
// blocks, and the per-block float arithmetic is the scalar kernel's expression in the same
// order (several blocks' float work may share a vector, but each lane does one block's
// operations and the lanes are added to the accumulator in block order), so the results are
// bit-identical to quant_dot_scalar.cpp's; F32/F16 keep the scalar kernel's eight running sums
// as two f32x4 vectors. Everything else (other types, element-wise work, attention) comes from
// the portable table.
#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include "engine/kernels/activation.h"
#include "engine/kernels/attention_tile.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/quant_dot.h"
#include "engine/kernels/vector_ops.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

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

// F16 -> F32 for four halves in the low 16 bits of each lane, bit-identical to fp16_to_fp32:
// normal and subnormal halves are the half's bits moved into F32 position times 2^112 (exact:
// the product is a normal F32, wasm never flushes subnormals); infinities and NaNs are rebuilt
// with an all-ones exponent and the payload widened; the sign is put back last (so zeros keep
// theirs).
inline v128_t widen_f16x4(v128_t h) {
  const v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
  const v128_t magnitude = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7FFF)), 13);
  const v128_t finite = wasm_f32x4_mul(magnitude, wasm_f32x4_splat(0x1p112f));
  const v128_t exponent = wasm_v128_and(h, wasm_i32x4_splat(0x7C00));
  const v128_t inf_nan = wasm_i32x4_eq(exponent, wasm_i32x4_splat(0x7C00));
  const v128_t special = wasm_v128_or(
      wasm_i32x4_splat(0x7F800000), wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x3FF)), 13));
  return wasm_v128_or(wasm_v128_bitselect(special, finite, inf_nan), sign);
}

// The F16 scales `d` of four consecutive blocks, as F32.
template <class Block>
inline v128_t block_scales(const Block* w) {
  return widen_f16x4(wasm_i32x4_make(w[0].d, w[1].d, w[2].d, w[3].d));
}

// [hsum(s0), hsum(s1), hsum(s2), hsum(s3)]: four blocks' integer sums in one vector (integer
// addition is exact in any order).
inline v128_t horizontal_sums(v128_t s0, v128_t s1, v128_t s2, v128_t s3) {
  const v128_t s01 = wasm_i32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5),
                                    wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
  const v128_t s23 = wasm_i32x4_add(wasm_i32x4_shuffle(s2, s3, 0, 4, 1, 5),
                                    wasm_i32x4_shuffle(s2, s3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5),
                        wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7));
}

// The scalar kernels add the block values to the accumulator one block after the other; the
// four lanes are added in that order, so the sum's rounding is the same.
inline float add_in_order(float acc, v128_t values) {
  acc += wasm_f32x4_extract_lane(values, 0);
  acc += wasm_f32x4_extract_lane(values, 1);
  acc += wasm_f32x4_extract_lane(values, 2);
  acc += wasm_f32x4_extract_lane(values, 3);
  return acc;
}

// The integer dots of four blocks' weights, widened to int16 (wide[block][quarter]), with
// four Q8 activation blocks: one lane per block.
v128_t four_block_dots(const v128_t (&wide)[4][4], const BlockQ8Act* a) {
  v128_t sums[4];
  for (int k = 0; k < 4; ++k) {
    const v128_t a0 = wasm_v128_load(a[k].qs);
    const v128_t a1 = wasm_v128_load(a[k].qs + 16);
    const v128_t lo =
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(wide[k][0], wasm_i16x8_extend_low_i8x16(a0)),
                       wasm_i32x4_dot_i16x8(wide[k][1], wasm_i16x8_extend_high_i8x16(a0)));
    const v128_t hi =
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(wide[k][2], wasm_i16x8_extend_low_i8x16(a1)),
                       wasm_i32x4_dot_i16x8(wide[k][3], wasm_i16x8_extend_high_i8x16(a1)));
    sums[k] = wasm_i32x4_add(lo, hi);
  }
  return horizontal_sums(sums[0], sums[1], sums[2], sums[3]);
}

// Four blocks at a time: the weights are widened to int16 once for every token of the tile,
// the four blocks' integer sums are reduced together, and the per-block float expression
// (dw * da * isum, the scalar kernel's, in its order) runs on four lanes.
void row_dot_q8_0_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                          int n_act, float* out) {
  const auto* w = static_cast<const BlockQ8_0*>(weight_row);
  float acc[kMaxTokenTile] = {};
  const int64_t n_blocks = n / kLegacyBlock;
  int64_t b = 0;
  for (; b + 4 <= n_blocks; b += 4) {
    v128_t wide[4][4];
    for (int k = 0; k < 4; ++k) {
      const v128_t w0 = wasm_v128_load(w[b + k].qs);
      const v128_t w1 = wasm_v128_load(w[b + k].qs + 16);
      wide[k][0] = wasm_i16x8_extend_low_i8x16(w0);
      wide[k][1] = wasm_i16x8_extend_high_i8x16(w0);
      wide[k][2] = wasm_i16x8_extend_low_i8x16(w1);
      wide[k][3] = wasm_i16x8_extend_high_i8x16(w1);
    }
    const v128_t dw = block_scales(w + b);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act* a = &act_block(act, stride, t, b);
      const v128_t isum = four_block_dots(wide, a);
      const v128_t da = wasm_f32x4_make(a[0].d, a[1].d, a[2].d, a[3].d);
      const v128_t value = wasm_f32x4_mul(wasm_f32x4_mul(dw, da), wasm_f32x4_convert_i32x4(isum));
      acc[t] = add_in_order(acc[t], value);
    }
  }
  for (; b < n_blocks; ++b) {
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
// applied through the activation block's ds, as in the scalar kernel. Four blocks at a time,
// as Q8_0.
void row_dot_q4_0_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                          int n_act, float* out) {
  const auto* w = static_cast<const BlockQ4_0*>(weight_row);
  float acc[kMaxTokenTile] = {};
  const v128_t low_mask = wasm_i8x16_splat(0x0F);
  const int64_t n_blocks = n / kLegacyBlock;
  int64_t b = 0;
  for (; b + 4 <= n_blocks; b += 4) {
    v128_t wide[4][4];
    for (int k = 0; k < 4; ++k) {
      const v128_t packed = wasm_v128_load(w[b + k].qs);
      const v128_t lo = wasm_v128_and(packed, low_mask);
      const v128_t hi = wasm_u8x16_shr(packed, 4);
      wide[k][0] = wasm_u16x8_extend_low_u8x16(lo);
      wide[k][1] = wasm_u16x8_extend_high_u8x16(lo);
      wide[k][2] = wasm_u16x8_extend_low_u8x16(hi);
      wide[k][3] = wasm_u16x8_extend_high_u8x16(hi);
    }
    const v128_t dw = block_scales(w + b);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act* a = &act_block(act, stride, t, b);
      const v128_t isum = four_block_dots(wide, a);
      const v128_t da = wasm_f32x4_make(a[0].d, a[1].d, a[2].d, a[3].d);
      const v128_t ds = wasm_f32x4_make(a[0].ds, a[1].ds, a[2].ds, a[3].ds);
      // The scalar kernel's dw * (da * isum - 8 * ds) + 0.0f * ds, lane by lane.
      const v128_t inner = wasm_f32x4_sub(wasm_f32x4_mul(da, wasm_f32x4_convert_i32x4(isum)),
                                          wasm_f32x4_mul(wasm_f32x4_splat(8.0f), ds));
      const v128_t value =
          wasm_f32x4_add(wasm_f32x4_mul(dw, inner), wasm_f32x4_mul(wasm_f32x4_splat(0.0f), ds));
      acc[t] = add_in_order(acc[t], value);
    }
  }
  for (; b < n_blocks; ++b) {
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

// Q4_K / Q5_K: the codes of the eight 32-element sub-blocks decoded with SIMD (low nibbles of
// the 32 bytes of qs for sub-block 2i, high nibbles for 2i + 1; Q5_K's fifth bit j of qh[l]),
// then the scalar kernel's integer sums (exact in any order) and its float expression.
template <class Block, bool kFiveBit>
void row_dot_q45_k_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                           int n_act, float* out) {
  const auto* w = static_cast<const Block*>(weight_row);
  float acc[kMaxTokenTile] = {};
  const v128_t low_mask = wasm_i8x16_splat(0x0F);
  const v128_t one = wasm_i8x16_splat(1);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    v128_t codes[8][2];
    for (int i = 0; i < 4; ++i) {
      for (int half = 0; half < 2; ++half) {
        const v128_t packed = wasm_v128_load(w[b].qs + 32 * i + 16 * half);
        codes[2 * i][half] = wasm_v128_and(packed, low_mask);
        codes[2 * i + 1][half] = wasm_u8x16_shr(packed, 4);
      }
    }
    if constexpr (kFiveBit) {
      for (int half = 0; half < 2; ++half) {
        const v128_t high = wasm_v128_load(w[b].qh + 16 * half);
        for (int j = 0; j < 8; ++j) {
          const v128_t bit = wasm_v128_and(wasm_u8x16_shr(high, j), one);
          codes[j][half] = wasm_v128_or(codes[j][half], wasm_i8x16_shl(bit, 4));
        }
      }
    }
    int32_t scales[8], mins[8];
    for (int j = 0; j < 8; ++j) {
      uint8_t scale, min;
      unpack_scale_min_k(w[b].scales, j, &scale, &min);
      scales[j] = scale;
      mins[j] = min;
    }
    const float dw = fp16_to_fp32(w[b].d);
    const float dmin = fp16_to_fp32(w[b].dmin);
    for (int t = 0; t < n_act; ++t) {
      const auto* row = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(act) +
                                                           stride * static_cast<size_t>(t));
      const BlockQ8_K& a = row[b];
      v128_t scaled_lanes = wasm_i32x4_splat(0);
      int32_t min_sum = 0;
      for (int j = 0; j < 8; ++j) {
        const v128_t dot =
            wasm_i32x4_add(dot16_u8(codes[j][0], wasm_v128_load(a.qs + 32 * j)),
                           dot16_u8(codes[j][1], wasm_v128_load(a.qs + 32 * j + 16)));
        scaled_lanes =
            wasm_i32x4_add(scaled_lanes, wasm_i32x4_mul(dot, wasm_i32x4_splat(scales[j])));
        min_sum += mins[j] * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
      }
      const int32_t scaled = horizontal_sum(scaled_lanes);
      acc[t] += dw * a.d * static_cast<float>(scaled) - dmin * a.d * static_cast<float>(min_sum);
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

// F32 and F16 weights against F32 activations: the scalar kernels keep eight running sums
// (element k goes to sum k % 8) and add them up in order at the end; two f32x4 accumulators
// per token are those eight sums, so the results are the same bits. A tail shorter than 8
// goes through the same lanes in scalar code.
template <bool kHalf>
void row_dot_float_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                           int n_act, float* out) {
  v128_t acc_lo[kMaxTokenTile];
  v128_t acc_hi[kMaxTokenTile];
  for (int t = 0; t < n_act; ++t) acc_lo[t] = acc_hi[t] = wasm_f32x4_splat(0.0f);
  const int64_t n_full = n - n % 8;
  for (int64_t k = 0; k < n_full; k += 8) {
    v128_t w_lo, w_hi;
    if constexpr (kHalf) {
      const v128_t halves = wasm_v128_load(static_cast<const uint16_t*>(weight_row) + k);
      w_lo = widen_f16x4(wasm_u32x4_extend_low_u16x8(halves));
      w_hi = widen_f16x4(wasm_u32x4_extend_high_u16x8(halves));
    } else {
      w_lo = wasm_v128_load(static_cast<const float*>(weight_row) + k);
      w_hi = wasm_v128_load(static_cast<const float*>(weight_row) + k + 4);
    }
    for (int t = 0; t < n_act; ++t) {
      const float* a = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) +
                                                      stride * static_cast<size_t>(t)) +
                       k;
      acc_lo[t] = wasm_f32x4_add(acc_lo[t], wasm_f32x4_mul(w_lo, wasm_v128_load(a)));
      acc_hi[t] = wasm_f32x4_add(acc_hi[t], wasm_f32x4_mul(w_hi, wasm_v128_load(a + 4)));
    }
  }
  for (int t = 0; t < n_act; ++t) {
    alignas(16) float lanes[8];
    wasm_v128_store(lanes, acc_lo[t]);
    wasm_v128_store(lanes + 4, acc_hi[t]);
    const float* a = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) +
                                                    stride * static_cast<size_t>(t));
    for (int64_t k = n_full; k < n; ++k) {
      const float wk = kHalf ? fp16_to_fp32(static_cast<const uint16_t*>(weight_row)[k])
                             : static_cast<const float*>(weight_row)[k];
      lanes[k - n_full] += wk * a[k];
    }
    float sum = 0.0f;
    for (float v : lanes) sum += v;
    out[t] = sum;
  }
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
    case TensorType::Q4_K: return row_dot_q45_k_simd128<BlockQ4_K, false>;
    case TensorType::Q5_K: return row_dot_q45_k_simd128<BlockQ5_K, true>;
    case TensorType::F32: return row_dot_float_simd128<false>;
    case TensorType::F16: return row_dot_float_simd128<true>;
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
