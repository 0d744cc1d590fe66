// Weight matrices for kernel tests.
//
// unit_scale_weights: integer sums are exact: random bytes for every quantized code, packed
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

// Rows of normally distributed values quantized to `type`, with what they dequantize to (the
// values the kernels actually multiply; tolerances are scaled by them).
struct QuantizedMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> dequantized;  // rows x cols
};

inline QuantizedMatrix random_quantized_matrix(TensorType type, int64_t rows, int64_t cols,
                                               std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t stride = row_bytes(traits(type), cols);
  QuantizedMatrix m;
  m.bytes.resize(static_cast<size_t>(rows * stride));
  m.dequantized.resize(static_cast<size_t>(rows * cols));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    quantize_row(type, row.data(), m.bytes.data() + r * stride, cols);
    dequantize_row(type, m.bytes.data() + r * stride, m.dequantized.data() + r * cols, cols);
  }
  return m;
}

}  // namespace hearth::testing
