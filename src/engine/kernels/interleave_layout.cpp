#include "engine/kernels/interleave_layout.h"

#include <cassert>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/kernels/interleave_offsets.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/quant_dot.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {
namespace {

constexpr int kSteps = 8;         // 4-element steps of a 32-element block
constexpr int kBlockScales = 32;  // bytes of one block's 16 F16 scales
constexpr int kSubBlocksK = 8;    // Q4_K: 8 sub-blocks of 32 per super-block
constexpr int kSubBlockK = 32;

bool has_min(TensorType type) {
  return type == TensorType::Q4_1 || type == TensorType::Q5_1;
}
bool has_fifth_bit(TensorType type) {
  return type == TensorType::Q5_0 || type == TensorType::Q5_1;
}

// Code bytes of one block of 16 rows.
int64_t block_code_bytes(TensorType type) {
  if (type == TensorType::Q8_0) return interleave::kQ8_0BlockCodes;
  return has_fifth_bit(type) ? interleave::kQ5_0BlockCodes : interleave::kQ4_0BlockCodes;
}

// Bytes of a pair's scales (and mins) before its codes.
int64_t pair_header_bytes(TensorType type) {
  return has_min(type) ? interleave::kPairScalesMinsBytes : interleave::kPairScalesBytes;
}

int64_t pair_bytes(TensorType type) {
  return pair_header_bytes(type) + 2 * block_code_bytes(type);
}

using interleave::kQ4KBytes;
using interleave::kQ4KCodesAt;
using interleave::kQ4KDAt;
using interleave::kQ4KDminAt;
using interleave::kQ4KScalesAt;
constexpr int64_t kKSuperBlockBytes = kQ4KBytes;
static_assert(kKSuperBlockBytes == kInterleaveRows * static_cast<int64_t>(sizeof(BlockQ4_K)));
using interleave::kQ5KBytes;
using interleave::kQ5KCodesAt;
using interleave::kQ5KPairBytes;
using interleave::kQ5KPairMasks;
static_assert(kQ5KBytes == kInterleaveRows * static_cast<int64_t>(sizeof(BlockQ5_K)));

constexpr int64_t kQ6HalfBytes = interleave::kQ6KHalfBytes;
constexpr int64_t kQ6DAt = interleave::kQ6KDAt;
constexpr int64_t kQ6SuperBlockBytes = interleave::kQ6KBytes;
static_assert(kQ6SuperBlockBytes == kInterleaveRows * static_cast<int64_t>(sizeof(BlockQ6_K)));

int64_t group_bytes(TensorType type, int64_t cols) {
  if (type == TensorType::Q4_K) return cols / kSuperBlock * kKSuperBlockBytes;
  if (type == TensorType::Q5_K) return cols / kSuperBlock * kQ5KBytes;
  if (type == TensorType::Q6_K) return cols / kSuperBlock * kQ6SuperBlockBytes;
  return cols / (2 * kLegacyBlock) * pair_bytes(type);
}

// Where block b's codes and scales start within a group.
const uint8_t* block_codes(TensorType type, const uint8_t* group, int64_t b) {
  return group + b / 2 * pair_bytes(type) + pair_header_bytes(type) +
         b % 2 * block_code_bytes(type);
}
const uint16_t* block_scales(TensorType type, const uint8_t* group, int64_t b) {
  return reinterpret_cast<const uint16_t*>(group + b / 2 * pair_bytes(type) + b % 2 * kBlockScales);
}
// Q4_1 / Q5_1 only.
const uint16_t* block_mins(TensorType type, const uint8_t* group, int64_t b) {
  return reinterpret_cast<const uint16_t*>(group + b / 2 * pair_bytes(type) +
                                           interleave::kPairMinsAt + b % 2 * kBlockScales);
}

int32_t code_offset(TensorType type) {
  switch (type) {
    case TensorType::Q8_0: return 128;
    case TensorType::Q5_0: return 16;
    case TensorType::Q4_0: return 8;
    default: return 0;  // Q4_1 / Q5_1: a min instead
  }
}

// Q5_0: the fifth bit of element k (< 32) of row i is bit 4 i + k % 4 of step k / 4's mask
// (the step's vector byte 4 i + k % 4 holds that element's code).
int fifth_bit(const uint8_t* codes, int i, int k) {
  const int bit = 4 * i + k % 4;
  return (codes[8 * (k / 4) + bit / 8] >> (bit % 8)) & 1;
}

// Code of element k (< 32) of row i in a block's codes, as stored (unsigned, with offset).
int code_at(TensorType type, const uint8_t* codes, int i, int k) {
  if (type == TensorType::Q8_0) return codes[64 * (k / 4) + 4 * i + k % 4];
  const uint8_t* nibbles = has_fifth_bit(type) ? codes + interleave::kQ5_0FifthBits : codes;
  const int low = k % 16;
  const uint8_t byte = nibbles[64 * (low / 4) + 4 * i + low % 4];
  const int code = k < 16 ? (byte & 0x0F) : (byte >> 4);
  return has_fifth_bit(type) ? code | fifth_bit(codes, i, k) << 4 : code;
}

// The loops every portable kernel shares: out[t][i] = acc after acc = unit(acc, u, token t's
// activation block u, i) for the n_units units of the group in order.
template <class Act, class Unit>
void scalar_rows(int64_t n_units, const void* act, size_t act_stride, int n_act, float* out,
                 int64_t out_stride, Unit&& unit) {
  for (int t = 0; t < n_act; ++t) {
    const auto* a = reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + act_stride * t);
    for (int i = 0; i < kInterleaveRows; ++i) {
      float acc = 0.0f;
      for (int64_t u = 0; u < n_units; ++u) acc = unit(acc, u, a[u], i);
      out[t * out_stride + i] = acc;
    }
  }
}

template <TensorType kType>
void dot_scalar(int64_t cols, const void* group, const void* act, size_t act_stride, int n_act,
                float* out, int64_t out_stride) {
  const auto* base = static_cast<const uint8_t*>(group);
  scalar_rows<InterleavedAct>(cols / kLegacyBlock, act, act_stride, n_act, out, out_stride,
                              [base](float acc, int64_t b, const InterleavedAct& a, int i) {
                                const uint8_t* codes = block_codes(kType, base, b);
                                int32_t sum = has_min(kType) ? 0 : a.offset_sum;
                                for (int k = 0; k < kLegacyBlock; ++k)
                                  sum += code_at(kType, codes, i, k) * a.qs[k];
                                const float dw = fp16_to_fp32(block_scales(kType, base, b)[i]);
                                acc = std::fma(static_cast<float>(sum), dw * a.d, acc);
                                if (!has_min(kType)) return acc;
                                const float mw = fp16_to_fp32(block_mins(kType, base, b)[i]);
                                return std::fma(mw, a.ds, acc);
                              });
}

// Q4_K / Q5_K: where sub-block pair c (< 4) of a super-block starts (Q5_K: its masks).
int64_t k_pair_at(TensorType type, int c) {
  return type == TensorType::Q5_K ? kQ5KCodesAt + kQ5KPairBytes * c : kQ4KCodesAt + 512 * c;
}

// Q4_K / Q5_K: the code (0..15, Q5_K 0..31) of element e (< 32) of sub-block j of row i. The
// pair's byte for element e holds sub-block 2c's code in its low nibble, 2c + 1's high.
int k_code(TensorType type, const uint8_t* super_block, int i, int j, int e) {
  const uint8_t* pair = super_block + k_pair_at(type, j / 2);
  const bool five = type == TensorType::Q5_K;
  const uint8_t byte = pair[(five ? kQ5KPairMasks : 0) + 64 * (e / 4) + 4 * i + e % 4];
  const int code = (byte >> (4 * (j % 2))) & 0x0F;
  if (!five) return code;
  const int bit = 4 * i + e % 4;
  const uint8_t mask_byte = pair[interleave::kVector * (j % 2) + 8 * (e / 4) + bit / 8];
  return code | ((mask_byte >> (bit % 8)) & 1) << 4;
}

int64_t k_super_block_bytes(TensorType type) {
  return type == TensorType::Q5_K ? kQ5KBytes : kKSuperBlockBytes;
}

// Row i's 12 packed scale/min bytes, reassembled from the 3 vectors.
void k_packed_scales(const uint8_t* super_block, int i, uint8_t* packed) {
  for (int k = 0; k < 3; ++k)
    std::memcpy(packed + 4 * k, super_block + kQ4KScalesAt + 64 * k + 4 * i, 4);
}

float k_half(const uint8_t* super_block, int64_t at, int i) {
  uint16_t h;
  std::memcpy(&h, super_block + at + 2 * i, sizeof(h));
  return fp16_to_fp32(h);
}

template <TensorType kType>  // Q4_K or Q5_K
void dot_scalar_q45_k(int64_t cols, const void* group, const void* act, size_t act_stride,
                      int n_act, float* out, int64_t out_stride) {
  const auto* base = static_cast<const uint8_t*>(group);
  scalar_rows<InterleavedActK>(
      cols / kSuperBlock, act, act_stride, n_act, out, out_stride,
      [base](float acc, int64_t sb, const InterleavedActK& a, int i) {
        const uint8_t* super_block = base + sb * k_super_block_bytes(kType);
        uint8_t packed[kPackedScalesK];
        k_packed_scales(super_block, i, packed);
        const float d = k_half(super_block, kQ4KDAt, i);
        const float dmin = k_half(super_block, kQ4KDminAt, i);
        float partial = 0.0f;
        for (int j = 0; j < kSubBlocksK; ++j) {
          int32_t sum = 0;
          for (int e = 0; e < kSubBlockK; ++e) {
            sum += k_code(kType, super_block, i, j, e) * a.qs[32 * j + e];
          }
          uint8_t scale, min;
          unpack_scale_min_k(packed, j, &scale, &min);
          partial = std::fma(static_cast<float>(sum), d * static_cast<float>(scale), partial);
          partial = std::fma(-(dmin * static_cast<float>(min)), a.sub_sums[j], partial);
        }
        return std::fma(partial, a.d, acc);
      });
}

// Calls place(block, super_block, i) for every super-block of every row: the row's block and
// where its 16-row group keeps that super-block, the row being lane i.
template <class Block, class Place>
void for_each_super_block(TensorType type, const void* src, int64_t rows, int64_t cols,
                          uint8_t* dst, int64_t super_block_bytes, Place&& place) {
  const int64_t n_blocks = cols / kSuperBlock;
  for (int64_t r = 0; r < rows; ++r) {
    const auto* blocks = reinterpret_cast<const Block*>(
        static_cast<const uint8_t*>(src) + r * n_blocks * static_cast<int64_t>(sizeof(Block)));
    uint8_t* group = dst + r / kInterleaveRows * group_bytes(type, cols);
    for (int64_t sb = 0; sb < n_blocks; ++sb) {
      place(blocks[sb], group + sb * super_block_bytes, static_cast<int>(r % kInterleaveRows));
    }
  }
}

template <class Block>  // BlockQ4_K or BlockQ5_K
void interleave_q45_k(const void* src, int64_t rows, int64_t cols, uint8_t* dst) {
  constexpr TensorType kType =
      std::is_same_v<Block, BlockQ5_K> ? TensorType::Q5_K : TensorType::Q4_K;
  for_each_super_block<Block>(
      kType, src, rows, cols, dst, k_super_block_bytes(kType),
      [](const Block& b, uint8_t* super_block, int i) {
        for (int c = 0; c < 4; ++c) {
          uint8_t* pair = super_block + k_pair_at(kType, c);
          uint8_t* codes = pair + (kType == TensorType::Q5_K ? kQ5KPairMasks : 0);
          for (int s = 0; s < kSteps; ++s)
            std::memcpy(codes + 64 * s + 4 * i, b.qs + 32 * c + 4 * s, 4);
          if constexpr (kType == TensorType::Q5_K) {
            // Element e of sub-block j has its fifth bit at bit j of qh[e]; rows 2m and
            // 2m + 1 share each mask byte, and the even row comes first.
            for (int half = 0; half < 2; ++half) {
              const int j = 2 * c + half;
              for (int s = 0; s < kSteps; ++s) {
                uint8_t nibble = 0;
                for (int e = 0; e < 4; ++e) nibble |= ((b.qh[4 * s + e] >> j) & 1) << e;
                uint8_t& byte = pair[interleave::kVector * half + 8 * s + i / 2];
                byte = i % 2 == 0 ? nibble : static_cast<uint8_t>(byte | nibble << 4);
              }
            }
          }
        }
        for (int k = 0; k < 3; ++k) {
          std::memcpy(super_block + kQ4KScalesAt + 64 * k + 4 * i, b.scales + 4 * k, 4);
        }
        std::memcpy(super_block + kQ4KDAt + 2 * i, &b.d, 2);
        std::memcpy(super_block + kQ4KDminAt + 2 * i, &b.dmin, 2);
      });
}

void dequantize_q45_k_row(TensorType type, const uint8_t* group, int i, int64_t cols, float* dst) {
  for (int64_t sb = 0; sb < cols / kSuperBlock; ++sb) {
    const uint8_t* super_block = group + sb * k_super_block_bytes(type);
    uint8_t packed[kPackedScalesK];
    k_packed_scales(super_block, i, packed);
    const float d = k_half(super_block, kQ4KDAt, i);
    const float dmin = k_half(super_block, kQ4KDminAt, i);
    for (int j = 0; j < kSubBlocksK; ++j, dst += kSubBlockK) {
      uint8_t scale, min;
      unpack_scale_min_k(packed, j, &scale, &min);
      // As dequantize_row_q4_k / _q5_k compute it, so both give the same floats.
      const float step = d * scale;
      const float offset = dmin * min;
      for (int e = 0; e < kSubBlockK; ++e) {
        dst[e] = step * static_cast<float>(k_code(type, super_block, i, j, e)) - offset;
      }
    }
  }
}

// Q6_K: where byte j of 4-byte chunk t of row i lies in part p of half h: qh (kind 0), ql of
// the low quarters (1) or of the high quarters (2).
int64_t q6_at(int h, int p, int kind, int t, int i, int j) {
  return kQ6HalfBytes * h + 128 + 768 * p + 256 * kind + 64 * t + 4 * i + j;
}
// Where byte j of row i's scales[4 k + j] lies.
int64_t q6_scale_at(int k, int i, int j) {
  return kQ6HalfBytes * (k / 2) + 64 * (k % 2) + 4 * i + j;
}

// Q6_K: the 6-bit code (0..63, offset 32) of element e (< 256) of row i. Element e is l of
// quarter m of half h (e = 128 h + 32 m + l); its part p = l / 16.
int q6_code(const uint8_t* super_block, int i, int e) {
  const int h = e / 128, m = e % 128 / 32, l = e % 32;
  const int p = l / 16, t = l % 16 / 4, j = l % 4;
  const uint8_t low = super_block[q6_at(h, p, 1 + m % 2, t, i, j)];
  const uint8_t high = super_block[q6_at(h, p, 0, t, i, j)];
  return ((low >> (4 * (m / 2))) & 0x0F) | (((high >> (2 * m)) & 3) << 4);
}

int8_t q6_scale(const uint8_t* super_block, int i, int s) {
  return static_cast<int8_t>(super_block[q6_scale_at(s / 4, i, s % 4)]);
}

// Sub-blocks in layout order (part by part, each part's 4 quarters), d once per super-block,
// as the AVX-512 kernel evaluates them.
void dot_scalar_q6_k(int64_t cols, const void* group, const void* act, size_t act_stride, int n_act,
                     float* out, int64_t out_stride) {
  const auto* base = static_cast<const uint8_t*>(group);
  scalar_rows<InterleavedActK>(
      cols / kSuperBlock, act, act_stride, n_act, out, out_stride,
      [base](float acc, int64_t sb, const InterleavedActK& a, int i) {
        const uint8_t* super_block = base + sb * kQ6SuperBlockBytes;
        float partial = 0.0f;
        for (int hp = 0; hp < 4; ++hp) {
          for (int m = 0; m < 4; ++m) {
            const int s = 8 * (hp / 2) + 2 * m + hp % 2;
            int32_t sum = a.offset_sums[s];
            for (int e = 16 * s; e < 16 * s + 16; ++e) sum += q6_code(super_block, i, e) * a.qs[e];
            const auto scale = static_cast<float>(q6_scale(super_block, i, s));
            partial = std::fma(static_cast<float>(sum), scale, partial);
          }
        }
        return std::fma(partial, k_half(super_block, kQ6DAt, i) * a.d, acc);
      });
}

void interleave_q6_k(const void* src, int64_t rows, int64_t cols, uint8_t* dst) {
  for_each_super_block<BlockQ6_K>(
      TensorType::Q6_K, src, rows, cols, dst, kQ6SuperBlockBytes,
      [](const BlockQ6_K& b, uint8_t* super_block, int i) {
        for (int h = 0; h < 2; ++h) {
          for (int p = 0; p < 2; ++p) {
            for (int t = 0; t < 4; ++t) {
              // qh[32 h + l], ql[64 h + l] and ql[64 h + 32 + l] for l = 16 p + 4 t + j.
              const int l = 16 * p + 4 * t;
              std::memcpy(super_block + q6_at(h, p, 0, t, i, 0), b.qh + 32 * h + l, 4);
              std::memcpy(super_block + q6_at(h, p, 1, t, i, 0), b.ql + 64 * h + l, 4);
              std::memcpy(super_block + q6_at(h, p, 2, t, i, 0), b.ql + 64 * h + 32 + l, 4);
            }
          }
        }
        for (int k = 0; k < 4; ++k) {
          std::memcpy(super_block + q6_scale_at(k, i, 0), b.scales + 4 * k, 4);
        }
        std::memcpy(super_block + kQ6DAt + 2 * i, &b.d, 2);
      });
}

void dequantize_q6_k_row(const uint8_t* group, int i, int64_t cols, float* dst) {
  for (int64_t sb = 0; sb < cols / kSuperBlock; ++sb, dst += kSuperBlock) {
    const uint8_t* super_block = group + sb * kQ6SuperBlockBytes;
    const float d = k_half(super_block, kQ6DAt, i);
    for (int e = 0; e < kSuperBlock; ++e) {
      // As dequantize_row_q6_k computes it, so both give the same floats.
      dst[e] = d * q6_scale(super_block, i, e / 16) * (q6_code(super_block, i, e) - 32);
    }
  }
}

// K-quant weights pair with Q8_K activations (InterleavedActK), the others with Q8 blocks.
bool uses_super_block_activations(TensorType weight_type) {
  return weight_type == TensorType::Q4_K || weight_type == TensorType::Q5_K ||
         weight_type == TensorType::Q6_K;
}

}  // namespace

bool can_interleave(TensorType type, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return false;
  if (type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K) {
    return cols % kSuperBlock == 0;
  }
  return (type == TensorType::Q8_0 || type == TensorType::Q4_0 || type == TensorType::Q5_0 ||
          type == TensorType::Q4_1 || type == TensorType::Q5_1) &&
         cols % (2 * kLegacyBlock) == 0;
}

int64_t interleaved_bytes(TensorType type, int64_t rows, int64_t cols) {
  return (rows + kInterleaveRows - 1) / kInterleaveRows * group_bytes(type, cols);
}

void interleave_rows(TensorType type, const void* src, int64_t rows, int64_t cols, void* dst) {
  assert(can_interleave(type, rows, cols));
  const int64_t src_stride = row_bytes(traits(type), cols);
  const int64_t n_blocks = cols / kLegacyBlock;
  if (rows % kInterleaveRows != 0) {  // the padded last group: zero codes and scales
    const int64_t last = rows / kInterleaveRows * group_bytes(type, cols);
    std::memset(static_cast<uint8_t*>(dst) + last, 0, static_cast<size_t>(group_bytes(type, cols)));
  }
  if (type == TensorType::Q4_K) {
    return interleave_q45_k<BlockQ4_K>(src, rows, cols, static_cast<uint8_t*>(dst));
  }
  if (type == TensorType::Q5_K) {
    return interleave_q45_k<BlockQ5_K>(src, rows, cols, static_cast<uint8_t*>(dst));
  }
  if (type == TensorType::Q6_K) return interleave_q6_k(src, rows, cols, static_cast<uint8_t*>(dst));
  for (int64_t g = 0; g * kInterleaveRows < rows; ++g) {
    auto* group = static_cast<uint8_t*>(dst) + g * group_bytes(type, cols);
    for (int i = 0; i < kInterleaveRows && g * kInterleaveRows + i < rows; ++i) {
      const auto* row = static_cast<const uint8_t*>(src) + (g * kInterleaveRows + i) * src_stride;
      for (int64_t b = 0; b < n_blocks; ++b) {
        auto* codes = const_cast<uint8_t*>(block_codes(type, group, b));
        auto* scales = const_cast<uint16_t*>(block_scales(type, group, b));
        // Element 4 s + j of the block goes to byte 4 i + j of step s: 4-byte chunks. (Q4_0,
        // Q5_0: the file's byte k holds element k low and element 16 + k high, as here.)
        const uint8_t* block = row + b * traits(type).type_size;
        std::memcpy(&scales[i], block, sizeof(uint16_t));
        const uint8_t* qs = block + sizeof(uint16_t);
        if (has_min(type)) {  // Q4_1 / Q5_1: the F16 m follows d
          auto* mins = const_cast<uint16_t*>(block_mins(type, group, b));
          std::memcpy(&mins[i], qs, sizeof(uint16_t));
          qs += sizeof(uint16_t);
        }
        if (has_fifth_bit(type)) {
          // Bits 4 k .. 4 k + 3 of the row's qh become bits 4 i .. 4 i + 3 of step k's mask.
          uint32_t qh;
          std::memcpy(&qh, qs, sizeof(qh));
          for (int k = 0; k < kSteps; ++k) {
            const auto nibble = static_cast<uint8_t>((qh >> (4 * k) & 0x0F) << (4 * (i % 2)));
            uint8_t& byte = codes[8 * k + i / 2];
            byte = i % 2 == 0 ? nibble : static_cast<uint8_t>(byte | nibble);
          }
          qs += sizeof(qh);
          codes += interleave::kQ5_0FifthBits;
        }
        const int n_steps = type == TensorType::Q8_0 ? kSteps : kSteps / 2;
        for (int s = 0; s < n_steps; ++s) std::memcpy(codes + 64 * s + 4 * i, qs + 4 * s, 4);
      }
    }
    if (type == TensorType::Q8_0) {  // q + 128 (a padding row's 0 becomes 128, i.e. 0 too)
      for (int64_t b = 0; b < n_blocks; ++b) {
        auto* codes = const_cast<uint8_t*>(block_codes(type, group, b));
        for (int k = 0; k < kInterleaveRows * kLegacyBlock; ++k) codes[k] ^= 0x80;
      }
    }
  }
}

void dequantize_interleaved_row(TensorType type, const void* matrix, int64_t row, int64_t cols,
                                float* dst) {
  const auto* group =
      static_cast<const uint8_t*>(matrix) + row / kInterleaveRows * group_bytes(type, cols);
  const int i = static_cast<int>(row % kInterleaveRows);
  if (type == TensorType::Q4_K || type == TensorType::Q5_K) {
    return dequantize_q45_k_row(type, group, i, cols, dst);
  }
  if (type == TensorType::Q6_K) return dequantize_q6_k_row(group, i, cols, dst);
  const int32_t offset = code_offset(type);
  for (int64_t b = 0; b < cols / kLegacyBlock; ++b) {
    const uint8_t* codes = block_codes(type, group, b);
    const float d = fp16_to_fp32(block_scales(type, group, b)[i]);
    if (has_min(type)) {  // as dequantize_row_q4_1 / _q5_1 compute it
      const float m = fp16_to_fp32(block_mins(type, group, b)[i]);
      for (int k = 0; k < kLegacyBlock; ++k) {
        dst[b * kLegacyBlock + k] = d * static_cast<float>(code_at(type, codes, i, k)) + m;
      }
      continue;
    }
    for (int k = 0; k < kLegacyBlock; ++k) {
      dst[b * kLegacyBlock + k] = d * static_cast<float>(code_at(type, codes, i, k) - offset);
    }
  }
}

size_t interleaved_activation_bytes(TensorType weight_type, int64_t n) {
  if (uses_super_block_activations(weight_type)) {
    return static_cast<size_t>(n / kSuperBlock) * sizeof(InterleavedActK);
  }
  return static_cast<size_t>(n / kLegacyBlock) * sizeof(InterleavedAct);
}

void quantize_interleaved_activation(TensorType weight_type, const float* x, int64_t n, void* dst,
                                     const KernelTable& kernels) {
  if (uses_super_block_activations(weight_type)) {
    thread_local std::vector<BlockQ8_K> blocks;
    blocks.resize(static_cast<size_t>(n / kSuperBlock));
    kernels.quantize_activation_row(ActivationFormat::kQ8K, x, blocks.data(), n);
    auto* out = static_cast<InterleavedActK*>(dst);
    for (size_t b = 0; b < blocks.size(); ++b) {
      out[b].d = blocks[b].d;
      for (int j = 0; j < kSubBlocksK; ++j) {
        out[b].sub_sums[j] =
            static_cast<float>(blocks[b].bsums[2 * j] + blocks[b].bsums[2 * j + 1]);
      }
      for (int j = 0; j < 16; ++j) out[b].offset_sums[j] = -32 * blocks[b].bsums[j];
      std::memcpy(out[b].qs, blocks[b].qs, sizeof(out[b].qs));
    }
    return;
  }
  thread_local std::vector<BlockQ8Act> blocks;
  blocks.resize(static_cast<size_t>(n / kLegacyBlock));
  kernels.quantize_activation_row(ActivationFormat::kQ8, x, blocks.data(), n);
  const int32_t offset = code_offset(weight_type);
  auto* out = static_cast<InterleavedAct*>(dst);
  for (size_t b = 0; b < blocks.size(); ++b) {
    int32_t sum = 0;
    for (int8_t q : blocks[b].qs) sum += q;
    out[b].d = blocks[b].d;
    if (has_min(weight_type)) {
      out[b].ds = blocks[b].ds;
    } else {
      out[b].offset_sum = -offset * sum;
    }
    std::memcpy(out[b].qs, blocks[b].qs, sizeof(out[b].qs));
  }
}

InterleavedDotFn scalar_interleaved_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return dot_scalar<TensorType::Q8_0>;
    case TensorType::Q4_0: return dot_scalar<TensorType::Q4_0>;
    case TensorType::Q5_0: return dot_scalar<TensorType::Q5_0>;
    case TensorType::Q4_1: return dot_scalar<TensorType::Q4_1>;
    case TensorType::Q5_1: return dot_scalar<TensorType::Q5_1>;
    case TensorType::Q4_K: return dot_scalar_q45_k<TensorType::Q4_K>;
    case TensorType::Q5_K: return dot_scalar_q45_k<TensorType::Q5_K>;
    case TensorType::Q6_K: return dot_scalar_q6_k;
    default: return nullptr;
  }
}

InterleavedDotFn find_interleaved_dot(TensorType weight_type, const KernelTable& kernels) {
  for (const KernelTable* table = &kernels; table; table = table->fallback) {
    if (!table->interleaved_dot) continue;
    if (InterleavedDotFn fn = table->interleaved_dot(weight_type)) return fn;
  }
  return scalar_interleaved_dot(weight_type);
}

}  // namespace hearth
