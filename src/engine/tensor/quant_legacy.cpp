// Legacy 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {
namespace {

constexpr int kHalf = kLegacyBlock / 2;

uint32_t load_qh(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));  // little-endian on every target hearth supports
  return bits;
}

void store_qh(uint8_t* qh, uint32_t bits) {
  std::memcpy(qh, &bits, sizeof(bits));
}

// The element of largest magnitude, sign kept: symmetric formats map it to the most negative
// code so the full code range is used on that side.
float signed_absmax(const float* x, int count) {
  float best = 0.0f;
  float best_abs = 0.0f;
  for (int i = 0; i < count; ++i) {
    if (std::fabs(x[i]) > best_abs) {
      best_abs = std::fabs(x[i]);
      best = x[i];
    }
  }
  return best;
}

int clamp_code(float value, int max_code) {
  return std::clamp(static_cast<int>(std::nearbyint(value)), 0, max_code);
}

// Symmetric quantizer shared by Q4_0 (bits=4) and Q5_0 (bits=5): codes 0..2^bits-1 stand for
// (code - 2^(bits-1)) * d. Returns the stored (F16-rounded) d and fills codes.
uint16_t quantize_symmetric(const float* x, int bits, uint8_t* codes) {
  const int offset = 1 << (bits - 1);
  const float extreme = signed_absmax(x, kLegacyBlock);
  const uint16_t d_bits = fp32_to_fp16(extreme / -static_cast<float>(offset));
  // Use the rounded scale for the codes: that is the scale dequantization will see.
  const float d = fp16_to_fp32(d_bits);
  const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < kLegacyBlock; ++i) {
    codes[i] = static_cast<uint8_t>(clamp_code(x[i] * inverse + offset, 2 * offset - 1));
  }
  return d_bits;
}

// Asymmetric quantizer shared by Q4_1 and Q5_1: value = code * d + m with m the block min.
void quantize_affine(const float* x, int bits, uint16_t* d_out, uint16_t* m_out, uint8_t* codes) {
  const int max_code = (1 << bits) - 1;
  const auto [lo, hi] = std::minmax_element(x, x + kLegacyBlock);
  *d_out = fp32_to_fp16((*hi - *lo) / static_cast<float>(max_code));
  *m_out = fp32_to_fp16(*lo);
  const float d = fp16_to_fp32(*d_out);
  const float m = fp16_to_fp32(*m_out);
  const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < kLegacyBlock; ++i) {
    codes[i] = static_cast<uint8_t>(clamp_code((x[i] - m) * inverse, max_code));
  }
}

void pack_nibbles(const uint8_t* codes, uint8_t* qs) {
  for (int j = 0; j < kHalf; ++j) {
    qs[j] = static_cast<uint8_t>((codes[j] & 0x0F) | ((codes[j + kHalf] & 0x0F) << 4));
  }
}

uint32_t fifth_bits(const uint8_t* codes) {
  uint32_t qh = 0;
  for (int i = 0; i < kLegacyBlock; ++i) qh |= static_cast<uint32_t>((codes[i] >> 4) & 1) << i;
  return qh;
}

}  // namespace

void dequantize_row_q4_0(const BlockQ4_0* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, dst += kLegacyBlock) {
    const float d = fp16_to_fp32(src[b].d);
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = static_cast<float>((src[b].qs[j] & 0x0F) - 8) * d;
      dst[j + kHalf] = static_cast<float>((src[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const BlockQ4_1* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, dst += kLegacyBlock) {
    const float d = fp16_to_fp32(src[b].d);
    const float m = fp16_to_fp32(src[b].m);
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = static_cast<float>(src[b].qs[j] & 0x0F) * d + m;
      dst[j + kHalf] = static_cast<float>(src[b].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_row_q5_0(const BlockQ5_0* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, dst += kLegacyBlock) {
    const float d = fp16_to_fp32(src[b].d);
    const uint32_t qh = load_qh(src[b].qh);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (src[b].qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (src[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1) << 4);
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + kHalf] = static_cast<float>(hi - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const BlockQ5_1* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, dst += kLegacyBlock) {
    const float d = fp16_to_fp32(src[b].d);
    const float m = fp16_to_fp32(src[b].m);
    const uint32_t qh = load_qh(src[b].qh);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (src[b].qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (src[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1) << 4);
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + kHalf] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequantize_row_q8_0(const BlockQ8_0* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, dst += kLegacyBlock) {
    const float d = fp16_to_fp32(src[b].d);
    for (int j = 0; j < kLegacyBlock; ++j) dst[j] = static_cast<float>(src[b].qs[j]) * d;
  }
}

void quantize_row_q4_0(const float* src, BlockQ4_0* dst, int64_t n) {
  uint8_t codes[kLegacyBlock];
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, src += kLegacyBlock) {
    dst[b].d = quantize_symmetric(src, 4, codes);
    pack_nibbles(codes, dst[b].qs);
  }
}

void quantize_row_q4_1(const float* src, BlockQ4_1* dst, int64_t n) {
  uint8_t codes[kLegacyBlock];
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, src += kLegacyBlock) {
    quantize_affine(src, 4, &dst[b].d, &dst[b].m, codes);
    pack_nibbles(codes, dst[b].qs);
  }
}

void quantize_row_q5_0(const float* src, BlockQ5_0* dst, int64_t n) {
  uint8_t codes[kLegacyBlock];
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, src += kLegacyBlock) {
    dst[b].d = quantize_symmetric(src, 5, codes);
    pack_nibbles(codes, dst[b].qs);
    store_qh(dst[b].qh, fifth_bits(codes));
  }
}

void quantize_row_q5_1(const float* src, BlockQ5_1* dst, int64_t n) {
  uint8_t codes[kLegacyBlock];
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, src += kLegacyBlock) {
    quantize_affine(src, 5, &dst[b].d, &dst[b].m, codes);
    pack_nibbles(codes, dst[b].qs);
    store_qh(dst[b].qh, fifth_bits(codes));
  }
}

void quantize_row_q8_0(const float* src, BlockQ8_0* dst, int64_t n) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, src += kLegacyBlock) {
    float absmax = 0.0f;
    for (int j = 0; j < kLegacyBlock; ++j) absmax = std::max(absmax, std::fabs(src[j]));
    dst[b].d = fp32_to_fp16(absmax / 127.0f);
    const float d = fp16_to_fp32(dst[b].d);
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kLegacyBlock; ++j) {
      const int q = static_cast<int>(std::nearbyint(src[j] * inverse));
      dst[b].qs[j] = static_cast<int8_t>(std::clamp(q, -127, 127));
    }
  }
}

}  // namespace hearth
