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
// as two f32x4 vectors. Q8_0, Q4_0 and Q6_K also have four-row kernels (one lane per row)
// with the same bits. Prompts of F32/F16 weights go to gemm_wasm_simd128.cpp's GEMM instead (not
// bit-identical). Attention is attention_tile_wasm_simd128.cpp's; everything else (other types,
// element-wise work) comes from the portable table.
#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include <type_traits>

#include "engine/kernels/activation.h"
#include "engine/kernels/attention_tile.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/quant_dot.h"
#include "engine/kernels/simd128_math.h"
#include "engine/kernels/vector_ops.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {
namespace {

using simd128::widen_f16x4;

// Calls fn(std::integral_constant<int, N>{}) with N = n_act (1..kMaxTokenTile). The kernels take
// their token count as a template argument so that their per-token accumulators live in
// registers: indexed by a run-time count, they stay in linear memory and every step of a loop
// goes through a store and a load (tiny-llama-spm-f16's decode in node: 184 -> about 335
// tokens/s from this alone; docs/wasm.md, "Accumulators in registers").
template <class Fn>
void with_token_count(int n_act, Fn&& fn) {
  static_assert(kMaxTokenTile == 4);
  switch (n_act) {
    case 1: fn(std::integral_constant<int, 1>{}); return;
    case 2: fn(std::integral_constant<int, 2>{}); return;
    case 3: fn(std::integral_constant<int, 3>{}); return;
    default: fn(std::integral_constant<int, 4>{}); return;
  }
}

// Block b of token t's activation row (BlockQ8Act for the legacy types, BlockQ8_K for K-quants).
template <class ActBlock = BlockQ8Act>
const ActBlock& act_block(const void* act, size_t stride, int t, int64_t b) {
  const auto* row = reinterpret_cast<const ActBlock*>(static_cast<const uint8_t*>(act) +
                                                      stride * static_cast<size_t>(t));
  return row[b];
}

// The four weight rows of a four-row kernel.
template <class Block>
void four_rows(const void* rows, int64_t row_stride, const Block* (&w)[4]) {
  for (int r = 0; r < 4; ++r) {
    w[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(rows) + r * row_stride);
  }
}

// Sum over 16 lanes of unsigned weight codes (0..63) times int8 activations, as int32x4
// partial sums.
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

// A 32-code block widened to int16, in four vectors of 8 (elements 0-7, 8-15, 16-23, 24-31).
struct Wide32 {
  v128_t q[4];
};

inline Wide32 widen_s8(v128_t q0_15, v128_t q16_31) {
  return {{wasm_i16x8_extend_low_i8x16(q0_15), wasm_i16x8_extend_high_i8x16(q0_15),
           wasm_i16x8_extend_low_i8x16(q16_31), wasm_i16x8_extend_high_i8x16(q16_31)}};
}

// Q4_0's codes: the low nibbles are elements 0..15, the high nibbles 16..31 (0..15 each).
inline Wide32 widen_q4_0(const BlockQ4_0& block) {
  const v128_t packed = wasm_v128_load(block.qs);
  const v128_t lo = wasm_v128_and(packed, wasm_i8x16_splat(0x0F));
  const v128_t hi = wasm_u8x16_shr(packed, 4);
  return {{wasm_u16x8_extend_low_u8x16(lo), wasm_u16x8_extend_high_u8x16(lo),
           wasm_u16x8_extend_low_u8x16(hi), wasm_u16x8_extend_high_u8x16(hi)}};
}

inline Wide32 widen_act(const BlockQ8Act& a) {
  return widen_s8(wasm_v128_load(a.qs), wasm_v128_load(a.qs + 16));
}

// The integer dot of two widened blocks as four int32 partial sums.
inline v128_t block_dot(const Wide32& w, const Wide32& a) {
  return wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.q[0], a.q[0]), wasm_i32x4_dot_i16x8(w.q[1], a.q[1])),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.q[2], a.q[2]), wasm_i32x4_dot_i16x8(w.q[3], a.q[3])));
}

// The integer dots of four blocks' weights with four Q8 activation blocks: one lane per block.
v128_t four_block_dots(const Wide32 (&wide)[4], const BlockQ8Act* a) {
  return horizontal_sums(block_dot(wide[0], widen_act(a[0])), block_dot(wide[1], widen_act(a[1])),
                         block_dot(wide[2], widen_act(a[2])), block_dot(wide[3], widen_act(a[3])));
}

// The legacy formats' per-block float expressions, the scalar kernels' in their order, one
// block per lane: `dw`, `da`, `ds` the weight and activation scales and the activation's
// d * sum(q), `isum` the integer dot.
struct Q8_0Format {
  using Block = BlockQ8_0;
  static Wide32 widen(const Block& block) {
    return widen_s8(wasm_v128_load(block.qs), wasm_v128_load(block.qs + 16));
  }
  static v128_t value(v128_t dw, v128_t da, v128_t /*ds*/, v128_t isum) {
    return wasm_f32x4_mul(wasm_f32x4_mul(dw, da), wasm_f32x4_convert_i32x4(isum));
  }
};

struct Q4_0Format {
  using Block = BlockQ4_0;
  static Wide32 widen(const Block& block) { return widen_q4_0(block); }
  // dw * (da * isum - 8 * ds) + 0.0f * ds: the last term is the scalar kernel's min term (zero
  // for Q4_0), kept so that signed zeros and non-finite activations give the same bits.
  static v128_t value(v128_t dw, v128_t da, v128_t ds, v128_t isum) {
    const v128_t inner = wasm_f32x4_sub(wasm_f32x4_mul(da, wasm_f32x4_convert_i32x4(isum)),
                                        wasm_f32x4_mul(wasm_f32x4_splat(8.0f), ds));
    return wasm_f32x4_add(wasm_f32x4_mul(dw, inner), wasm_f32x4_mul(wasm_f32x4_splat(0.0f), ds));
  }
};

// Four blocks at a time: the weights are widened to int16 once for every token of the tile,
// the four blocks' integer sums are reduced together, and the per-block float expression runs
// on four lanes, added to the accumulator in block order.
template <class Format, int n_act>
void row_dot_legacy_tile(int64_t n, const void* weight_row, const void* act, size_t stride,
                         float* out) {
  const auto* w = static_cast<const typename Format::Block*>(weight_row);
  float acc[n_act] = {};
  const int64_t n_blocks = n / kLegacyBlock;
  int64_t b = 0;
  for (; b + 4 <= n_blocks; b += 4) {
    Wide32 wide[4];
    for (int k = 0; k < 4; ++k) wide[k] = Format::widen(w[b + k]);
    const v128_t dw = block_scales(w + b);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act* a = &act_block(act, stride, t, b);
      const v128_t da = wasm_f32x4_make(a[0].d, a[1].d, a[2].d, a[3].d);
      const v128_t ds = wasm_f32x4_make(a[0].ds, a[1].ds, a[2].ds, a[3].ds);
      acc[t] = add_in_order(acc[t], Format::value(dw, da, ds, four_block_dots(wide, a)));
    }
  }
  for (; b < n_blocks; ++b) {
    const Wide32 wide = Format::widen(w[b]);
    const v128_t dw = wasm_f32x4_splat(fp16_to_fp32(w[b].d));
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act& a = act_block(act, stride, t, b);
      const v128_t isum = wasm_i32x4_splat(horizontal_sum(block_dot(wide, widen_act(a))));
      const v128_t value = Format::value(dw, wasm_f32x4_splat(a.d), wasm_f32x4_splat(a.ds), isum);
      acc[t] += wasm_f32x4_extract_lane(value, 0);
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

template <class Format>
void row_dot_legacy_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                            int n_act, float* out) {
  with_token_count(n_act, [&](auto tokens) {
    row_dot_legacy_tile<Format, decltype(tokens)::value>(n, weight_row, act, stride, out);
  });
}

// Four rows at once, one lane per row: each activation block is widened once for the four
// rows, their integer sums are reduced together, and each lane runs the scalar kernel's
// expression and accumulation for its row, block after block, so every result has the row
// dot's bits. Rows of one or two blocks (the 64-column output matrices of tiny models, whose
// 150k rows dominate their decoding) otherwise pay a call and a reduction per row.
template <class Format, int n_act>
void row_dot_4rows_legacy_tile(int64_t n, const void* rows, int64_t row_stride, const void* act,
                               size_t act_stride, float* out, int64_t out_stride) {
  using Block = typename Format::Block;
  const Block* w[4];
  four_rows(rows, row_stride, w);
  v128_t acc[n_act];
  for (int t = 0; t < n_act; ++t) acc[t] = wasm_f32x4_splat(0.0f);
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const v128_t dw = widen_f16x4(wasm_i32x4_make(w[0][b].d, w[1][b].d, w[2][b].d, w[3][b].d));
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act& a = act_block(act, act_stride, t, b);
      const Wide32 wa = widen_act(a);
      // Each row widened where it is used (again for each further token): four rows' widened
      // weights at once would not fit V8's 16 vector registers beside the activations.
      const v128_t isum = horizontal_sums(
          block_dot(Format::widen(w[0][b]), wa), block_dot(Format::widen(w[1][b]), wa),
          block_dot(Format::widen(w[2][b]), wa), block_dot(Format::widen(w[3][b]), wa));
      acc[t] = wasm_f32x4_add(
          acc[t], Format::value(dw, wasm_f32x4_splat(a.d), wasm_f32x4_splat(a.ds), isum));
    }
  }
  for (int t = 0; t < n_act; ++t) wasm_v128_store(out + t * out_stride, acc[t]);
}

template <class Format>
void row_dot_4rows_legacy_simd128(int64_t n, const void* rows, int64_t row_stride, const void* act,
                                  size_t act_stride, int n_act, float* out, int64_t out_stride) {
  with_token_count(n_act, [&](auto tokens) {
    row_dot_4rows_legacy_tile<Format, decltype(tokens)::value>(n, rows, row_stride, act, act_stride,
                                                               out, out_stride);
  });
}

// Q4_K / Q5_K: the codes of the eight 32-element sub-blocks decoded with SIMD (low nibbles of
// the 32 bytes of qs for sub-block 2i, high nibbles for 2i + 1; Q5_K's fifth bit j of qh[l]),
// then the scalar kernel's integer sums (exact in any order) and its float expression.
template <class Block, bool kFiveBit, int n_act>
void row_dot_q45_k_tile(int64_t n, const void* weight_row, const void* act, size_t stride,
                        float* out) {
  const auto* w = static_cast<const Block*>(weight_row);
  float acc[n_act] = {};
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
      const BlockQ8_K& a = act_block<BlockQ8_K>(act, stride, t, b);
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

template <class Block, bool kFiveBit>
void row_dot_q45_k_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                           int n_act, float* out) {
  with_token_count(n_act, [&](auto tokens) {
    row_dot_q45_k_tile<Block, kFiveBit, decltype(tokens)::value>(n, weight_row, act, stride, out);
  });
}

// F32 and F16 weights against F32 activations: the scalar kernels keep eight running sums
// (element k goes to sum k % 8) and add them up in order at the end; two f32x4 accumulators
// per token are those eight sums, so the results are the same bits. A tail shorter than 8
// goes through the same lanes in scalar code.
//
// F16 rows are widened first with the cheaper conversion that is exact for finite halves only
// (4 operations per four halves plus 2 per eight for the check, against the exact one's 8;
// tiny-llama-spm-f16 decodes 1.46x faster with it); a row that turns out to hold an infinity
// or NaN is computed again with the exact one.
enum class FloatWeights { kF32, kF16Finite, kF16Exact };

template <FloatWeights kWeights, int n_act>
bool row_dot_float_pass(int64_t n, const void* weight_row, const void* act, size_t stride,
                        float* out) {
  v128_t acc_lo[n_act];
  v128_t acc_hi[n_act];
  for (int t = 0; t < n_act; ++t) acc_lo[t] = acc_hi[t] = wasm_f32x4_splat(0.0f);
  v128_t max_magnitude = wasm_i16x8_splat(0);
  const int64_t n_full = n - n % 8;
  for (int64_t k = 0; k < n_full; k += 8) {
    v128_t w_lo, w_hi;
    if constexpr (kWeights == FloatWeights::kF32) {
      w_lo = wasm_v128_load(static_cast<const float*>(weight_row) + k);
      w_hi = wasm_v128_load(static_cast<const float*>(weight_row) + k + 4);
    } else {
      const v128_t halves = wasm_v128_load(static_cast<const uint16_t*>(weight_row) + k);
      if constexpr (kWeights == FloatWeights::kF16Finite) {
        max_magnitude = simd128::max_f16_magnitude(max_magnitude, halves);
        w_lo = simd128::widen_f16_finite_top(simd128::f16x8_low_on_top(halves));
        w_hi = simd128::widen_f16_finite_top(simd128::f16x8_high_on_top(halves));
      } else {
        simd128::widen_f16x8(halves, &w_lo, &w_hi);
      }
    }
    for (int t = 0; t < n_act; ++t) {
      const float* a = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) +
                                                      stride * static_cast<size_t>(t)) +
                       k;
      acc_lo[t] = wasm_f32x4_add(acc_lo[t], wasm_f32x4_mul(w_lo, wasm_v128_load(a)));
      acc_hi[t] = wasm_f32x4_add(acc_hi[t], wasm_f32x4_mul(w_hi, wasm_v128_load(a + 4)));
    }
  }
  if (kWeights == FloatWeights::kF16Finite && simd128::any_f16_inf_nan(max_magnitude)) {
    return false;
  }
  for (int t = 0; t < n_act; ++t) {
    alignas(16) float lanes[8];
    wasm_v128_store(lanes, acc_lo[t]);
    wasm_v128_store(lanes + 4, acc_hi[t]);
    const float* a = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) +
                                                    stride * static_cast<size_t>(t));
    for (int64_t k = n_full; k < n; ++k) {
      const float wk = kWeights == FloatWeights::kF32
                           ? static_cast<const float*>(weight_row)[k]
                           : fp16_to_fp32(static_cast<const uint16_t*>(weight_row)[k]);
      lanes[k - n_full] += wk * a[k];
    }
    float sum = 0.0f;
    for (float v : lanes) sum += v;
    out[t] = sum;
  }
  return true;
}

template <FloatWeights kWeights>
bool row_dot_float_tokens(int64_t n, const void* weight_row, const void* act, size_t stride,
                          int n_act, float* out) {
  bool done = false;
  with_token_count(n_act, [&](auto tokens) {
    done = row_dot_float_pass<kWeights, decltype(tokens)::value>(n, weight_row, act, stride, out);
  });
  return done;
}

void row_dot_f32_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                         int n_act, float* out) {
  row_dot_float_tokens<FloatWeights::kF32>(n, weight_row, act, stride, n_act, out);
}

void row_dot_f16_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                         int n_act, float* out) {
  if (!row_dot_float_tokens<FloatWeights::kF16Finite>(n, weight_row, act, stride, n_act, out)) {
    row_dot_float_tokens<FloatWeights::kF16Exact>(n, weight_row, act, stride, n_act, out);
  }
}

// Q6_K (the usual type of the output matrix, which dominates small models' generation): the
// 6-bit codes of each 16-element sub-block j decoded into one vector, then the scalar kernel's
// integer sum of scales[j] * (dot_j - 32 * bsums[j]) computed as lanes (sum of scales[j] *
// dot_j) minus 32 * (scales . bsums) and reduced once per super-block: integer addition is
// exact in any order, so the sum and the float expression after it are the scalar kernel's.
struct Q6KCodes {
  v128_t codes[16];  // codes[j]: elements 16 j .. 16 j + 15, 0..63
  v128_t scales_lo, scales_hi;
};

// Element 128 h + 32 k + l (l < 32) takes the low (k = 0, 1) or high (k = 2, 3) nibble of
// ql[64 h + 32 (k % 2) + l] and bits 2k..2k+1 of qh[32 h + l] as its bits 4..5.
inline Q6KCodes decode_q6_k(const BlockQ6_K& block) {
  const v128_t low_mask = wasm_i8x16_splat(0x0F);
  const v128_t high_mask = wasm_i8x16_splat(0x30);
  Q6KCodes c;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = block.ql + half * 64;
    const uint8_t* qh = block.qh + half * 32;
    for (int l = 0; l < 2; ++l) {
      const v128_t ql_a = wasm_v128_load(ql + 16 * l);
      const v128_t ql_b = wasm_v128_load(ql + 16 * l + 32);
      const v128_t h = wasm_v128_load(qh + 16 * l);
      const int j = 8 * half + l;
      c.codes[j] = wasm_v128_or(wasm_v128_and(ql_a, low_mask),
                                wasm_v128_and(wasm_i8x16_shl(h, 4), high_mask));
      c.codes[j + 2] = wasm_v128_or(wasm_v128_and(ql_b, low_mask),
                                    wasm_v128_and(wasm_i8x16_shl(h, 2), high_mask));
      c.codes[j + 4] = wasm_v128_or(wasm_u8x16_shr(ql_a, 4), wasm_v128_and(h, high_mask));
      c.codes[j + 6] =
          wasm_v128_or(wasm_u8x16_shr(ql_b, 4), wasm_v128_and(wasm_u8x16_shr(h, 2), high_mask));
    }
  }
  const v128_t scales = wasm_v128_load(block.scales);
  c.scales_lo = wasm_i16x8_extend_low_i8x16(scales);
  c.scales_hi = wasm_i16x8_extend_high_i8x16(scales);
  return c;
}

// The super-block's integer sum against one Q8_K block, as four int32 partial sums.
inline v128_t q6_k_lanes(const Q6KCodes& c, const int8_t* scales, const BlockQ8_K& a) {
  v128_t lanes = wasm_i32x4_splat(0);
  for (int j = 0; j < 16; ++j) {
    const v128_t dot = dot16_u8(c.codes[j], wasm_v128_load(a.qs + 16 * j));
    lanes = wasm_i32x4_add(lanes, wasm_i32x4_mul(dot, wasm_i32x4_splat(scales[j])));
  }
  const v128_t offsets =
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(c.scales_lo, wasm_v128_load(a.bsums)),
                     wasm_i32x4_dot_i16x8(c.scales_hi, wasm_v128_load(a.bsums + 8)));
  return wasm_i32x4_sub(lanes, wasm_i32x4_shl(offsets, 5));
}

template <int n_act>
void row_dot_q6_k_tile(int64_t n, const void* weight_row, const void* act, size_t stride,
                       float* out) {
  const auto* w = static_cast<const BlockQ6_K*>(weight_row);
  float acc[n_act] = {};
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const Q6KCodes codes = decode_q6_k(w[b]);
    const float dw = fp16_to_fp32(w[b].d);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8_K& a = act_block<BlockQ8_K>(act, stride, t, b);
      acc[t] += dw * a.d * static_cast<float>(horizontal_sum(q6_k_lanes(codes, w[b].scales, a)));
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

void row_dot_q6_k_simd128(int64_t n, const void* weight_row, const void* act, size_t stride,
                          int n_act, float* out) {
  with_token_count(n_act, [&](auto tokens) {
    row_dot_q6_k_tile<decltype(tokens)::value>(n, weight_row, act, stride, out);
  });
}

// Four Q6_K rows at once, one lane per row, as the legacy four-row kernels: the four rows'
// integer sums reduced together and each lane running its row's scalar expression,
// (dw * da) * isum added to the accumulator super-block after super-block. For outputs of
// one super-block per row (tiny-phi3: 32064 rows of 256 columns).
template <int n_act>
void row_dot_4rows_q6_k_tile(int64_t n, const void* rows, int64_t row_stride, const void* act,
                             size_t act_stride, float* out, int64_t out_stride) {
  const BlockQ6_K* w[4];
  four_rows(rows, row_stride, w);
  v128_t acc[n_act];
  for (int t = 0; t < n_act; ++t) acc[t] = wasm_f32x4_splat(0.0f);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    v128_t lanes[n_act][4];
    for (int r = 0; r < 4; ++r) {
      const Q6KCodes codes = decode_q6_k(w[r][b]);
      for (int t = 0; t < n_act; ++t) {
        const BlockQ8_K& a = act_block<BlockQ8_K>(act, act_stride, t, b);
        lanes[t][r] = q6_k_lanes(codes, w[r][b].scales, a);
      }
    }
    const v128_t dw = widen_f16x4(wasm_i32x4_make(w[0][b].d, w[1][b].d, w[2][b].d, w[3][b].d));
    for (int t = 0; t < n_act; ++t) {
      const v128_t isum = horizontal_sums(lanes[t][0], lanes[t][1], lanes[t][2], lanes[t][3]);
      const v128_t da = wasm_f32x4_splat(act_block<BlockQ8_K>(act, act_stride, t, b).d);
      acc[t] = wasm_f32x4_add(
          acc[t], wasm_f32x4_mul(wasm_f32x4_mul(dw, da), wasm_f32x4_convert_i32x4(isum)));
    }
  }
  for (int t = 0; t < n_act; ++t) wasm_v128_store(out + t * out_stride, acc[t]);
}

void row_dot_4rows_q6_k_simd128(int64_t n, const void* rows, int64_t row_stride, const void* act,
                                size_t act_stride, int n_act, float* out, int64_t out_stride) {
  with_token_count(n_act, [&](auto tokens) {
    row_dot_4rows_q6_k_tile<decltype(tokens)::value>(n, rows, row_stride, act, act_stride, out,
                                                     out_stride);
  });
}

RowDotFn simd128_row_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return row_dot_legacy_simd128<Q8_0Format>;
    case TensorType::Q4_0: return row_dot_legacy_simd128<Q4_0Format>;
    case TensorType::Q6_K: return row_dot_q6_k_simd128;
    case TensorType::Q4_K: return row_dot_q45_k_simd128<BlockQ4_K, false>;
    case TensorType::Q5_K: return row_dot_q45_k_simd128<BlockQ5_K, true>;
    case TensorType::F32: return row_dot_f32_simd128;
    case TensorType::F16: return row_dot_f16_simd128;
    default: return nullptr;
  }
}

RowDot4Fn simd128_row_dot_4rows(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return row_dot_4rows_legacy_simd128<Q8_0Format>;
    case TensorType::Q4_0: return row_dot_4rows_legacy_simd128<Q4_0Format>;
    case TensorType::Q6_K: return row_dot_4rows_q6_k_simd128;
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
    .row_dot_4rows = simd128_row_dot_4rows,
    .row_dot_4rows_min_tokens = 1,
    .interleaved_dot = scalar_interleaved_dot,
    .gemm = wasm_simd128_gemm,
    .swiglu = swiglu_portable,
    .copy_finite = copy_finite_portable,
    .max_value = max_value_portable,
    .exp_shifted = exp_shifted_portable,
    .attend_tile = attn::attend_tile_simd128,
};

}  // namespace hearth

#endif  // __wasm_simd128__
