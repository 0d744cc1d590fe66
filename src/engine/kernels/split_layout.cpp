#include "engine/kernels/split_layout.h"

#include <cassert>
#include <cstring>
#include <vector>

#include "engine/kernels/quant_dot.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {
namespace {

constexpr int kHalf = kLegacyBlock / 2;  // elements 0..15 / 16..31 of a block
constexpr int64_t kLineBytes = 64;

int64_t code_bytes(TensorType type, int64_t cols) {
  return type == TensorType::Q8_0 ? cols : cols / 2;
}

const uint16_t* row_scales(TensorType type, const void* row, int64_t cols) {
  return reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(row) +
                                           code_bytes(type, cols));
}

}  // namespace

int64_t split_unit_bytes(TensorType type) {
  switch (type) {
    case TensorType::Q8_0: return kSplitUnit;
    case TensorType::Q4_0: return kSplitUnit / 2;
    default: return 0;
  }
}

bool can_split(TensorType type, int64_t cols) {
  return split_unit_bytes(type) > 0 && cols > 0 && cols % kSplitUnit == 0;
}

int64_t split_row_bytes(TensorType type, int64_t cols) {
  const int64_t bytes = code_bytes(type, cols) + cols / kLegacyBlock * 2;
  return (bytes + kLineBytes - 1) / kLineBytes * kLineBytes;
}

void split_rows(TensorType type, const void* src, int64_t rows, int64_t cols, void* dst) {
  assert(can_split(type, cols));
  const int64_t n_blocks = cols / kLegacyBlock;
  const int64_t src_stride = row_bytes(traits(type), cols);
  const int64_t dst_stride = split_row_bytes(type, cols);
  const int64_t scales_at = code_bytes(type, cols);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* in = static_cast<const uint8_t*>(src) + r * src_stride;
    uint8_t* out = static_cast<uint8_t*>(dst) + r * dst_stride;
    std::memset(out + scales_at, 0, static_cast<size_t>(dst_stride - scales_at));
    auto* scales = reinterpret_cast<uint16_t*>(out + scales_at);
    if (type == TensorType::Q8_0) {
      const auto* blocks = reinterpret_cast<const BlockQ8_0*>(in);
      for (int64_t b = 0; b < n_blocks; ++b) {
        uint8_t* unit = out + b / 4 * kSplitUnit;
        const int64_t j = b % 4;
        for (int i = 0; i < kHalf; ++i) {
          unit[kHalf * j + i] = static_cast<uint8_t>(blocks[b].qs[i] + 128);
          unit[64 + kHalf * j + i] = static_cast<uint8_t>(blocks[b].qs[kHalf + i] + 128);
        }
        scales[b] = blocks[b].d;
      }
    } else {
      const auto* blocks = reinterpret_cast<const BlockQ4_0*>(in);
      for (int64_t b = 0; b < n_blocks; ++b) {
        std::memcpy(out + b * kHalf, blocks[b].qs, kHalf);
        scales[b] = blocks[b].d;
      }
    }
  }
}

void dequantize_split_row(TensorType type, const void* row, float* dst, int64_t cols) {
  const auto* codes = static_cast<const uint8_t*>(row);
  const uint16_t* scales = row_scales(type, row, cols);
  for (int64_t b = 0; b < cols / kLegacyBlock; ++b) {
    const float d = fp16_to_fp32(scales[b]);
    float* out = dst + b * kLegacyBlock;
    if (type == TensorType::Q8_0) {
      const uint8_t* unit = codes + b / 4 * kSplitUnit + kHalf * (b % 4);
      for (int i = 0; i < kHalf; ++i) {
        out[i] = d * static_cast<float>(unit[i] - 128);
        out[kHalf + i] = d * static_cast<float>(unit[64 + i] - 128);
      }
    } else {
      const uint8_t* packed = codes + b * kHalf;
      for (int i = 0; i < kHalf; ++i) {
        out[i] = d * static_cast<float>((packed[i] & 0x0F) - 8);
        out[i + kHalf] = d * static_cast<float>((packed[i] >> 4) - 8);
      }
    }
  }
}

size_t split_activation_bytes(int64_t n) {
  return static_cast<size_t>(n / kSplitUnit) * sizeof(SplitAct);
}

void pack_split_activation(TensorType type, const BlockQ8Act* blocks, int64_t n, SplitAct* dst) {
  const int32_t offset = type == TensorType::Q8_0 ? 128 : 8;
  for (int64_t u = 0; u < n / kSplitUnit; ++u) {
    SplitAct& unit = dst[u];
    for (int j = 0; j < 4; ++j) {
      const BlockQ8Act& block = blocks[4 * u + j];
      std::memcpy(unit.codes + kHalf * j, block.qs, kHalf);
      std::memcpy(unit.codes + 64 + kHalf * j, block.qs + kHalf, kHalf);
      for (int l = 0; l < 4; ++l) unit.scales[4 * j + l] = block.d;
    }
    for (int l = 0; l < kSplitLanes; ++l) {
      int32_t sum = 0;
      for (int i = 0; i < 4; ++i) sum += unit.codes[4 * l + i] + unit.codes[64 + 4 * l + i];
      unit.offset_sums[l] = -offset * sum;
    }
  }
}

namespace {

// Portable kernels over split rows: the reference the AVX-512 ones are tested against, and
// the fallback where a level has none. Same lane sums and the same float expression.
template <TensorType kType>
void row_dot_split_scalar(int64_t n, const void* weight_row, const void* act, size_t stride,
                          int n_act, float* out) {
  const auto* codes = static_cast<const uint8_t*>(weight_row);
  const uint16_t* scales = row_scales(kType, weight_row, n);
  const int64_t unit_bytes = split_unit_bytes(kType);
  for (int t = 0; t < n_act; ++t) {
    const auto* units =
        reinterpret_cast<const SplitAct*>(static_cast<const uint8_t*>(act) + stride * t);
    float acc = 0.0f;
    for (int64_t u = 0; u < n / kSplitUnit; ++u) {
      const SplitAct& a = units[u];
      const uint8_t* w = codes + u * unit_bytes;
      for (int l = 0; l < kSplitLanes; ++l) {
        int32_t sum = a.offset_sums[l];
        for (int i = 0; i < 4; ++i) {
          const int k = 4 * l + i;
          if constexpr (kType == TensorType::Q8_0) {
            sum += w[k] * a.codes[k] + w[64 + k] * a.codes[64 + k];
          } else {
            sum += (w[k] & 0x0F) * a.codes[k] + (w[k] >> 4) * a.codes[64 + k];
          }
        }
        const float dw = fp16_to_fp32(scales[4 * u + l / 4]);
        acc += static_cast<float>(sum) * (dw * a.scales[l]);
      }
    }
    out[t] = acc;
  }
}

}  // namespace

void quantize_split_activation(TensorType weight_type, const float* x, int64_t n, SplitAct* dst,
                               KernelLevel level) {
  if (level >= KernelLevel::kAvx512)
    return avx512_quantize_split_activation(weight_type, x, n, dst);
  thread_local std::vector<uint8_t> blocks;
  blocks.resize(activation_row_bytes(ActivationFormat::kQ8, n));
  quantize_activation_row_at(ActivationFormat::kQ8, x, blocks.data(), n, level);
  pack_split_activation(weight_type, reinterpret_cast<const BlockQ8Act*>(blocks.data()), n, dst);
}

RowDotFn scalar_split_row_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return row_dot_split_scalar<TensorType::Q8_0>;
    case TensorType::Q4_0: return row_dot_split_scalar<TensorType::Q4_0>;
    default: return nullptr;
  }
}

}  // namespace hearth
