// GGML block layouts, exactly as stored in GGUF files, and the per-format row converters
// behind quant.h. Half-precision scales are raw F16 bits (see fp16.h).
//
// Legacy formats hold 32 elements per block. K-quants hold 256 elements per super-block,
// split into sub-blocks that each have their own (quantized) scale.
#pragma once

#include <cstdint>

#include "engine/tensor/types.h"

namespace hearth {

inline constexpr int kLegacyBlock = 32;    // elements per Q4_0 .. Q8_0 block
inline constexpr int kSuperBlock = 256;    // elements per K-quant super-block
inline constexpr int kPackedScalesK = 12;  // 8 six-bit scales + 8 six-bit mins

// value = (q - 8) * d; qs[j] low nibble is element j, high nibble is element j + 16.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kLegacyBlock / 2];
};
// value = q * d + m
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kLegacyBlock / 2];
};
// 5-bit: qs as in Q4_0 gives the low 4 bits; bit j of the little-endian u32 qh is the fifth
// bit of element j. value = (q - 16) * d.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kLegacyBlock / 2];
};
// value = q * d + m, q as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kLegacyBlock / 2];
};
// value = q * d
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kLegacyBlock];
};

// 8 sub-blocks of 32. Sub-block j: value = d * sc_j * q - dmin * m_j with 6-bit sc_j, m_j
// packed in `scales`; sub-blocks 2i and 2i+1 share qs[32i .. 32i+31] (low / high nibbles).
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kPackedScalesK];
  uint8_t qs[kSuperBlock / 2];
};
// As Q4_K plus a fifth bit: bit j of qh[l] belongs to element 32j + l.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kPackedScalesK];
  uint8_t qh[kSuperBlock / 8];
  uint8_t qs[kSuperBlock / 2];
};
// 16 sub-blocks of 16 with int8 scales; value = d * scales[j] * (q - 32), q 6-bit split
// into ql (low 4 bits) and qh (2 high bits). See dequantize_row_q6_k for the interleaving.
struct BlockQ6_K {
  uint8_t ql[kSuperBlock / 2];
  uint8_t qh[kSuperBlock / 4];
  int8_t scales[kSuperBlock / 16];
  uint16_t d;
};
// Activation format for K-quant dot products: value = q * d; bsums[j] is the sum of
// qs[16j .. 16j+15], precomputed so the weight's min term costs one multiply per sub-block.
struct BlockQ8_K {
  float d;
  int8_t qs[kSuperBlock];
  int16_t bsums[kSuperBlock / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block.
inline void unpack_scale_min_k(const uint8_t* packed, int j, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

// Per-format row converters (n a multiple of the block size).
void dequantize_row_q4_0(const BlockQ4_0* src, float* dst, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* src, float* dst, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* src, float* dst, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* src, float* dst, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* src, float* dst, int64_t n);
void dequantize_row_q4_k(const BlockQ4_K* src, float* dst, int64_t n);
void dequantize_row_q5_k(const BlockQ5_K* src, float* dst, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* src, float* dst, int64_t n);
void dequantize_row_q8_k(const BlockQ8_K* src, float* dst, int64_t n);

void quantize_row_q4_0(const float* src, BlockQ4_0* dst, int64_t n);
void quantize_row_q4_1(const float* src, BlockQ4_1* dst, int64_t n);
void quantize_row_q5_0(const float* src, BlockQ5_0* dst, int64_t n);
void quantize_row_q5_1(const float* src, BlockQ5_1* dst, int64_t n);
void quantize_row_q8_0(const float* src, BlockQ8_0* dst, int64_t n);
void quantize_row_q4_k(const float* src, BlockQ4_K* dst, int64_t n);
void quantize_row_q5_k(const float* src, BlockQ5_K* dst, int64_t n);
void quantize_row_q6_k(const float* src, BlockQ6_K* dst, int64_t n);
void quantize_row_q8_k(const float* src, BlockQ8_K* dst, int64_t n);

}  // namespace hearth
