#include "engine/kernels/interleave_layout.h"

#include <cassert>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/kernels/quant_dot.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {
namespace {

constexpr int kSteps = 8;         // 4-element steps of a 32-element block
constexpr int kPairScales = 64;   // bytes of a pair's two blocks' F16 scales
constexpr int kBlockScales = 32;  // bytes of one block's 16 F16 scales

// Code bytes of one block of 16 rows.
int64_t block_code_bytes(TensorType type) {
  return type == TensorType::Q8_0 ? kInterleaveRows * kLegacyBlock
                                  : kInterleaveRows * kLegacyBlock / 2;
}

int64_t pair_bytes(TensorType type) {
  return 2 * block_code_bytes(type) + kPairScales;
}

int64_t group_bytes(TensorType type, int64_t cols) {
  return cols / (2 * kLegacyBlock) * pair_bytes(type);
}

// Where block b's codes and scales start within a group.
const uint8_t* block_codes(TensorType type, const uint8_t* group, int64_t b) {
  return group + b / 2 * pair_bytes(type) + b % 2 * block_code_bytes(type);
}
const uint16_t* block_scales(TensorType type, const uint8_t* group, int64_t b) {
  return reinterpret_cast<const uint16_t*>(group + b / 2 * pair_bytes(type) +
                                           2 * block_code_bytes(type) + b % 2 * kBlockScales);
}

int32_t code_offset(TensorType type) {
  return type == TensorType::Q8_0 ? 128 : 8;
}

// Code of element k (< 32) of row i in a block's codes, as stored (unsigned, with offset).
int code_at(TensorType type, const uint8_t* codes, int i, int k) {
  if (type == TensorType::Q8_0) return codes[64 * (k / 4) + 4 * i + k % 4];
  const int low = k % 16;
  const uint8_t byte = codes[64 * (low / 4) + 4 * i + low % 4];
  return k < 16 ? (byte & 0x0F) : (byte >> 4);
}

template <TensorType kType>
void dot_scalar(int64_t cols, const void* group, const void* act, size_t act_stride, int n_act,
                float* out, int64_t out_stride) {
  const auto* base = static_cast<const uint8_t*>(group);
  for (int t = 0; t < n_act; ++t) {
    const auto* a =
        reinterpret_cast<const InterleavedAct*>(static_cast<const uint8_t*>(act) + act_stride * t);
    for (int i = 0; i < kInterleaveRows; ++i) {
      float acc = 0.0f;
      for (int64_t b = 0; b < cols / kLegacyBlock; ++b) {
        const uint8_t* codes = block_codes(kType, base, b);
        int32_t sum = a[b].offset_sum;
        for (int k = 0; k < kLegacyBlock; ++k) sum += code_at(kType, codes, i, k) * a[b].qs[k];
        const float dw = fp16_to_fp32(block_scales(kType, base, b)[i]);
        acc = std::fma(static_cast<float>(sum), dw * a[b].d, acc);
      }
      out[t * out_stride + i] = acc;
    }
  }
}

}  // namespace

bool can_interleave(TensorType type, int64_t rows, int64_t cols) {
  return (type == TensorType::Q8_0 || type == TensorType::Q4_0) && rows > 0 && cols > 0 &&
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
  for (int64_t g = 0; g * kInterleaveRows < rows; ++g) {
    auto* group = static_cast<uint8_t*>(dst) + g * group_bytes(type, cols);
    for (int i = 0; i < kInterleaveRows && g * kInterleaveRows + i < rows; ++i) {
      const auto* row = static_cast<const uint8_t*>(src) + (g * kInterleaveRows + i) * src_stride;
      for (int64_t b = 0; b < n_blocks; ++b) {
        auto* codes = const_cast<uint8_t*>(block_codes(type, group, b));
        auto* scales = const_cast<uint16_t*>(block_scales(type, group, b));
        // Element 4 s + j of the block goes to byte 4 i + j of step s: 4-byte chunks. (Q4_0:
        // the file's byte k holds element k low and element 16 + k high, as here.)
        const uint8_t* block = row + b * traits(type).type_size;
        std::memcpy(&scales[i], block, sizeof(uint16_t));
        const int n_steps = type == TensorType::Q8_0 ? kSteps : kSteps / 2;
        for (int s = 0; s < n_steps; ++s) {
          std::memcpy(codes + 64 * s + 4 * i, block + sizeof(uint16_t) + 4 * s, 4);
        }
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
  const int32_t offset = code_offset(type);
  for (int64_t b = 0; b < cols / kLegacyBlock; ++b) {
    const uint8_t* codes = block_codes(type, group, b);
    const float d = fp16_to_fp32(block_scales(type, group, b)[i]);
    for (int k = 0; k < kLegacyBlock; ++k) {
      dst[b * kLegacyBlock + k] = d * static_cast<float>(code_at(type, codes, i, k) - offset);
    }
  }
}

size_t interleaved_activation_bytes(int64_t n) {
  return static_cast<size_t>(n / kLegacyBlock) * sizeof(InterleavedAct);
}

void quantize_interleaved_activation(TensorType weight_type, const float* x, int64_t n,
                                     InterleavedAct* dst, KernelLevel level) {
  thread_local std::vector<BlockQ8Act> blocks;
  blocks.resize(static_cast<size_t>(n / kLegacyBlock));
  quantize_activation_row_at(ActivationFormat::kQ8, x, blocks.data(), n, level);
  const int32_t offset = code_offset(weight_type);
  for (size_t b = 0; b < blocks.size(); ++b) {
    int32_t sum = 0;
    for (int8_t q : blocks[b].qs) sum += q;
    dst[b].d = blocks[b].d;
    dst[b].offset_sum = -offset * sum;
    std::memcpy(dst[b].qs, blocks[b].qs, sizeof(dst[b].qs));
  }
}

InterleavedDotFn scalar_interleaved_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return dot_scalar<TensorType::Q8_0>;
    case TensorType::Q4_0: return dot_scalar<TensorType::Q4_0>;
    default: return nullptr;
  }
}

InterleavedDotFn find_interleaved_dot(TensorType weight_type, KernelLevel level) {
  if (level >= KernelLevel::kAvx512) {
    if (InterleavedDotFn fn = avx512_interleaved_dot(weight_type)) return fn;
  }
  return scalar_interleaved_dot(weight_type);
}

}  // namespace hearth
