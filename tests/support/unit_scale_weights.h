// Test weights whose integer sums are exact: random bytes for every quantized code, packed
// K-quant scale and high-bit pattern (Q8_0's -128 included), with every float scale (d, and
// m / dmin where the format has one) set to 1, so each product is a small integer that a
// float holds exactly and SIMD kernels must match the scalar ones bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "engine/tensor/fp16.h"
#include "engine/tensor/quant.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth::testing {

inline std::vector<uint8_t> unit_scale_weights(TensorType type, int64_t rows, int64_t cols,
                                               std::mt19937& rng) {
  const uint16_t one = fp32_to_fp16(1.0f);
  const int64_t n_blocks = rows * cols / traits(type).block_size;
  const size_t block_bytes = static_cast<size_t>(traits(type).type_size);
  std::vector<uint8_t> weights(static_cast<size_t>(n_blocks) * block_bytes);
  for (auto& byte : weights) byte = static_cast<uint8_t>(rng());
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t* block = weights.data() + b * block_bytes;
    switch (type) {
      case TensorType::Q4_1:
      case TensorType::Q5_1:
      case TensorType::Q4_K:
      case TensorType::Q5_K:
        std::memcpy(block + 2, &one, 2);  // m / dmin
        [[fallthrough]];
      case TensorType::Q4_0:
      case TensorType::Q5_0:
      case TensorType::Q8_0:
        std::memcpy(block, &one, 2);  // d
        break;
      case TensorType::Q6_K: std::memcpy(block + offsetof(BlockQ6_K, d), &one, 2); break;
      default: break;
    }
  }
  return weights;
}

}  // namespace hearth::testing
