// K-quant super-block formats: Q4_K, Q5_K, Q6_K and the Q8_K activation format.
#include <algorithm>
#include <cmath>

#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {
namespace {

constexpr int kSubBlocksK = 8;  // Q4_K / Q5_K: 8 sub-blocks of 32
constexpr int kSubBlockK = 32;
constexpr int kSubBlocksQ6 = 16;  // Q6_K: 16 sub-blocks of 16
constexpr int kSubBlockQ6 = 16;
constexpr int kMaxPackedScale = 63;  // 6-bit scales and mins

int round_clamp(float value, int lo, int hi) {
  return std::clamp(static_cast<int>(std::nearbyint(value)), lo, hi);
}

// Fits x ~= scale * q - offset with integer q in [0, max_code], scale >= 0, offset >= 0 (the
// format stores the offset as an unsigned "min", so the represented range always includes 0).
// Tries a few step sizes around the min/max one and refines each by least squares on the
// chosen codes; keeps the one with the smallest squared error.
void fit_affine(const float* x, int count, int max_code, float* scale_out, float* offset_out) {
  float lo = 0.0f;
  float hi = x[0];
  for (int i = 0; i < count; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  *scale_out = 0.0f;
  *offset_out = -lo;
  if (!(hi > lo)) return;

  float best_error = INFINITY;
  for (int step = -6; step <= 10; ++step) {
    const float trial =
        (hi - lo) / (static_cast<float>(max_code) + 0.1f * static_cast<float>(step));
    if (!(trial > 0.0f)) continue;
    // Codes for this trial step, then the least-squares (scale, base) for those codes.
    float sum_q = 0, sum_x = 0, sum_qq = 0, sum_qx = 0;
    int codes[kSubBlockK];
    for (int i = 0; i < count; ++i) {
      codes[i] = round_clamp((x[i] - lo) / trial, 0, max_code);
      const float q = static_cast<float>(codes[i]);
      sum_q += q;
      sum_x += x[i];
      sum_qq += q * q;
      sum_qx += q * x[i];
    }
    const float n = static_cast<float>(count);
    const float det = n * sum_qq - sum_q * sum_q;
    float scale = trial;
    float base = lo;
    if (det > 0.0f) {
      scale = (n * sum_qx - sum_q * sum_x) / det;
      base = (sum_x - scale * sum_q) / n;
    }
    if (base > 0.0f) {  // offset must be <= 0 as stored; refit the scale alone
      base = 0.0f;
      scale = sum_qq > 0.0f ? sum_qx / sum_qq : 0.0f;
    }
    if (!(scale > 0.0f)) continue;
    float error = 0.0f;
    for (int i = 0; i < count; ++i) {
      // Re-round with the fitted parameters: that is what the final encoding will do.
      const int q = round_clamp((x[i] - base) / scale, 0, max_code);
      const float diff = scale * static_cast<float>(q) + base - x[i];
      error += diff * diff;
    }
    if (error < best_error) {
      best_error = error;
      *scale_out = scale;
      *offset_out = -base;
    }
  }
}

// Scale for x ~= scale * q with integer q in [-32, 31] (Q6_K sub-blocks). Starts from the
// element of largest magnitude mapped to -32 (sign kept, which uses the wider negative side),
// tries nearby steps, refits each by least squares on its codes and keeps the best.
float fit_symmetric(const float* x, int count) {
  float extreme = 0.0f;
  for (int i = 0; i < count; ++i) {
    if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
  }
  if (extreme == 0.0f) return 0.0f;
  float best_scale = extreme / -32.0f;
  float best_error = INFINITY;
  for (int step = -8; step <= 8; ++step) {
    const float trial = extreme / (-32.0f + 0.25f * static_cast<float>(step));
    float sum_qx = 0.0f, sum_qq = 0.0f;
    for (int i = 0; i < count; ++i) {
      const float q = static_cast<float>(round_clamp(x[i] / trial, -32, 31));
      sum_qx += q * x[i];
      sum_qq += q * q;
    }
    if (!(sum_qq > 0.0f)) continue;
    const float scale = sum_qx / sum_qq;
    float error = 0.0f;
    for (int i = 0; i < count; ++i) {
      const float diff = scale * static_cast<float>(round_clamp(x[i] / scale, -32, 31)) - x[i];
      error += diff * diff;
    }
    if (error < best_error) {
      best_error = error;
      best_scale = scale;
    }
  }
  return best_scale;
}

// Inverse of unpack_scale_min_k for all 8 sub-blocks.
void pack_scale_min_k(const uint8_t* scales, const uint8_t* mins, uint8_t* packed) {
  for (int j = 0; j < kPackedScalesK; ++j) packed[j] = 0;
  for (int j = 0; j < kSubBlocksK; ++j) {
    if (j < 4) {
      packed[j] |= scales[j] & 63;
      packed[j + 4] |= mins[j] & 63;
    } else {
      packed[j + 4] = static_cast<uint8_t>((scales[j] & 0x0F) | ((mins[j] & 0x0F) << 4));
      packed[j - 4] |= static_cast<uint8_t>((scales[j] >> 4) << 6);
      packed[j] |= static_cast<uint8_t>((mins[j] >> 4) << 6);
    }
  }
}

// Shared by Q4_K (max_code 15) and Q5_K (max_code 31): chooses the super-block scales, the
// 6-bit per-sub-block scales and mins, and the final codes (one per element).
void quantize_super_block_affine(const float* x, int max_code, uint16_t* d_out, uint16_t* dmin_out,
                                 uint8_t* packed_scales, uint8_t* codes) {
  float scales[kSubBlocksK];
  float offsets[kSubBlocksK];
  float max_scale = 0.0f;
  float max_offset = 0.0f;
  for (int j = 0; j < kSubBlocksK; ++j) {
    fit_affine(x + j * kSubBlockK, kSubBlockK, max_code, &scales[j], &offsets[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_offset = std::max(max_offset, offsets[j]);
  }
  *d_out = fp32_to_fp16(max_scale / kMaxPackedScale);
  *dmin_out = fp32_to_fp16(max_offset / kMaxPackedScale);
  const float d = fp16_to_fp32(*d_out);
  const float dmin = fp16_to_fp32(*dmin_out);

  uint8_t scale_codes[kSubBlocksK];
  uint8_t offset_codes[kSubBlocksK];
  for (int j = 0; j < kSubBlocksK; ++j) {
    scale_codes[j] =
        static_cast<uint8_t>(d > 0.0f ? round_clamp(scales[j] / d, 0, kMaxPackedScale) : 0);
    offset_codes[j] =
        static_cast<uint8_t>(dmin > 0.0f ? round_clamp(offsets[j] / dmin, 0, kMaxPackedScale) : 0);
    // Codes are chosen against the scale and offset dequantization will actually use.
    const float scale = d * static_cast<float>(scale_codes[j]);
    const float offset = dmin * static_cast<float>(offset_codes[j]);
    for (int i = 0; i < kSubBlockK; ++i) {
      const int e = j * kSubBlockK + i;
      codes[e] = static_cast<uint8_t>(
          scale > 0.0f ? round_clamp((x[e] + offset) / scale, 0, max_code) : 0);
    }
  }
  pack_scale_min_k(scale_codes, offset_codes, packed_scales);
}

// Sub-blocks 2i and 2i+1 share 32 bytes: low nibbles then high nibbles.
void pack_nibbles_k(const uint8_t* codes, uint8_t* qs) {
  for (int pair = 0; pair < kSubBlocksK / 2; ++pair) {
    const uint8_t* low = codes + 2 * pair * kSubBlockK;
    const uint8_t* high = low + kSubBlockK;
    for (int l = 0; l < kSubBlockK; ++l) {
      qs[pair * kSubBlockK + l] = static_cast<uint8_t>((low[l] & 0x0F) | ((high[l] & 0x0F) << 4));
    }
  }
}

}  // namespace

void dequantize_row_q4_k(const BlockQ4_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const float d = fp16_to_fp32(src[b].d);
    const float dmin = fp16_to_fp32(src[b].dmin);
    for (int j = 0; j < kSubBlocksK; ++j, dst += kSubBlockK) {
      uint8_t scale, min;
      unpack_scale_min_k(src[b].scales, j, &scale, &min);
      const float step = d * scale;
      const float offset = dmin * min;
      const uint8_t* qs = src[b].qs + (j / 2) * kSubBlockK;
      const int shift = (j % 2) * 4;
      for (int l = 0; l < kSubBlockK; ++l) {
        dst[l] = step * static_cast<float>((qs[l] >> shift) & 0x0F) - offset;
      }
    }
  }
}

void dequantize_row_q5_k(const BlockQ5_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const float d = fp16_to_fp32(src[b].d);
    const float dmin = fp16_to_fp32(src[b].dmin);
    for (int j = 0; j < kSubBlocksK; ++j, dst += kSubBlockK) {
      uint8_t scale, min;
      unpack_scale_min_k(src[b].scales, j, &scale, &min);
      const float step = d * scale;
      const float offset = dmin * min;
      const uint8_t* qs = src[b].qs + (j / 2) * kSubBlockK;
      const int shift = (j % 2) * 4;
      for (int l = 0; l < kSubBlockK; ++l) {
        const int q = ((qs[l] >> shift) & 0x0F) | (((src[b].qh[l] >> j) & 1) << 4);
        dst[l] = step * static_cast<float>(q) - offset;
      }
    }
  }
}

// Each 128-element half uses 64 bytes of ql and 32 of qh. For l < 32, ql[l] holds elements
// l (low nibble) and l+64 (high); ql[l+32] holds l+32 and l+96; qh[l] holds the two high
// bits of l, l+32, l+64, l+96 in bit pairs 0-1, 2-3, 4-5, 6-7.
void dequantize_row_q6_k(const BlockQ6_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const float d = fp16_to_fp32(src[b].d);
    for (int half = 0; half < 2; ++half, dst += 128) {
      const uint8_t* ql = src[b].ql + half * 64;
      const uint8_t* qh = src[b].qh + half * 32;
      const int8_t* scales = src[b].scales + half * 8;
      for (int l = 0; l < 32; ++l) {
        const int q0 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q1 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        const int sub = l / kSubBlockQ6;
        dst[l] = d * scales[sub] * q0;
        dst[l + 32] = d * scales[sub + 2] * q1;
        dst[l + 64] = d * scales[sub + 4] * q2;
        dst[l + 96] = d * scales[sub + 6] * q3;
      }
    }
  }
}

void dequantize_row_q8_k(const BlockQ8_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b, dst += kSuperBlock) {
    for (int i = 0; i < kSuperBlock; ++i) dst[i] = src[b].d * static_cast<float>(src[b].qs[i]);
  }
}

void quantize_row_q4_k(const float* src, BlockQ4_K* dst, int64_t n) {
  uint8_t codes[kSuperBlock];
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    quantize_super_block_affine(src, 15, &dst[b].d, &dst[b].dmin, dst[b].scales, codes);
    pack_nibbles_k(codes, dst[b].qs);
  }
}

void quantize_row_q5_k(const float* src, BlockQ5_K* dst, int64_t n) {
  uint8_t codes[kSuperBlock];
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    quantize_super_block_affine(src, 31, &dst[b].d, &dst[b].dmin, dst[b].scales, codes);
    pack_nibbles_k(codes, dst[b].qs);
    for (int l = 0; l < kSubBlockK; ++l) {
      uint8_t bits = 0;
      for (int j = 0; j < kSubBlocksK; ++j) {
        bits |= static_cast<uint8_t>(((codes[j * kSubBlockK + l] >> 4) & 1) << j);
      }
      dst[b].qh[l] = bits;
    }
  }
}

void quantize_row_q6_k(const float* src, BlockQ6_K* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    float sub_scales[kSubBlocksQ6];
    float max_abs_scale = 0.0f;
    for (int j = 0; j < kSubBlocksQ6; ++j) {
      sub_scales[j] = fit_symmetric(src + j * kSubBlockQ6, kSubBlockQ6);
      max_abs_scale = std::max(max_abs_scale, std::fabs(sub_scales[j]));
    }
    dst[b].d = fp32_to_fp16(max_abs_scale / 127.0f);
    const float d = fp16_to_fp32(dst[b].d);
    uint8_t codes[kSuperBlock];
    for (int j = 0; j < kSubBlocksQ6; ++j) {
      const int scale_code = d > 0.0f ? round_clamp(sub_scales[j] / d, -127, 127) : 0;
      dst[b].scales[j] = static_cast<int8_t>(scale_code);
      const float step = d * static_cast<float>(scale_code);
      for (int i = 0; i < kSubBlockQ6; ++i) {
        const int e = j * kSubBlockQ6 + i;
        const int q = step != 0.0f ? round_clamp(src[e] / step, -32, 31) : 0;
        codes[e] = static_cast<uint8_t>(q + 32);
      }
    }
    for (int half = 0; half < 2; ++half) {
      const uint8_t* c = codes + half * 128;
      uint8_t* ql = dst[b].ql + half * 64;
      uint8_t* qh = dst[b].qh + half * 32;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((c[l] & 0x0F) | ((c[l + 64] & 0x0F) << 4));
        ql[l + 32] = static_cast<uint8_t>((c[l + 32] & 0x0F) | ((c[l + 96] & 0x0F) << 4));
        qh[l] = static_cast<uint8_t>((c[l] >> 4) | ((c[l + 32] >> 4) << 2) |
                                     ((c[l + 64] >> 4) << 4) | ((c[l + 96] >> 4) << 6));
      }
    }
  }
}

void quantize_row_q8_k(const float* src, BlockQ8_K* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    float absmax = 0.0f;
    for (int i = 0; i < kSuperBlock; ++i) absmax = std::max(absmax, std::fabs(src[i]));
    dst[b].d = absmax / 127.0f;
    const float inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    for (int i = 0; i < kSuperBlock; ++i) {
      dst[b].qs[i] = static_cast<int8_t>(round_clamp(src[i] * inverse, -127, 127));
    }
    for (int j = 0; j < kSuperBlock / 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += dst[b].qs[16 * j + i];
      dst[b].bsums[j] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace hearth
